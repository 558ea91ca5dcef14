"""Small shape layers: gray -> RGB channel repeat, and picking one index along an axis."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_fer")
class GrayscaleToRGB(keras.layers.Layer):
    """Repeat a single gray channel ``channels`` times (NHWC), for 3-channel networks.

    Args:
        channels: number of output channels (3 for ImageNet-style networks).
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Example:
        >>> import numpy as np
        >>> tuple(GrayscaleToRGB()(np.zeros((2, 48, 48, 1), "float32")).shape)
        (2, 48, 48, 3)
    """

    def __init__(self, channels=3, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, inputs):
        return ops.repeat(inputs, self.channels, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.channels,)

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels})
        return config


@keras.saving.register_keras_serializable(package="keras_fer")
class TakeIndex(keras.layers.Layer):
    """Select position ``index`` along ``axis`` (the axis is removed).

    Used for the ViT class token (``axis=1, index=0``) and DACL's per-head attention
    (``axis=-1, index=1``: the second softmax output of each binary head).

    Args:
        index: the position to keep.
        axis: the axis to index (not the batch axis).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Example:
        >>> import numpy as np
        >>> tuple(TakeIndex(index=0, axis=1)(np.zeros((2, 65, 192), "float32")).shape)
        (2, 192)
    """

    def __init__(self, index=0, axis=1, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)
        self.axis = int(axis)

    def call(self, inputs):
        return ops.take(inputs, self.index, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        del shape[self.axis]
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"index": self.index, "axis": self.axis})
        return config


@keras.saving.register_keras_serializable(package="keras_fer")
class MeanProbabilityLogits(keras.layers.Layer):
    """Average the softmax probabilities of several logit tensors and return their log: logits
    whose softmax is the mean probability (an ensemble's output, read like any model's logits).

    Args:
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Example:
        >>> import numpy as np
        >>> a, b = np.log([[0.9, 0.1]]), np.log([[0.5, 0.5]])
        >>> out = MeanProbabilityLogits()([a.astype("float32"), b.astype("float32")])
        >>> np.round(np.exp(keras.ops.convert_to_numpy(out)), 3).tolist()
        [[0.7, 0.3]]
    """

    def call(self, inputs):
        probs = [ops.softmax(ops.cast(x, "float32"), axis=-1) for x in inputs]
        return ops.log(ops.mean(ops.stack(probs, axis=0), axis=0) + 1e-12)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])
