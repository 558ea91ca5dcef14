"""Vision Transformer layers: a learned class token and a learned position embedding."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_fer")
class ClassToken(keras.layers.Layer):
    """Prepend one learned token to a sequence: (N, T, D) -> (N, T + 1, D).

    Args:
        initializer: initializer of the token (zeros, as in ViT).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Example:
        >>> import numpy as np
        >>> tuple(ClassToken()(np.zeros((2, 64, 192), "float32")).shape)
        (2, 65, 192)
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer=self.initializer,
                                     name="token")

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        token = ops.cast(ops.broadcast_to(self.token, (batch, 1, ops.shape(inputs)[-1])), inputs.dtype)
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"initializer": keras.initializers.serialize(self.initializer)})
        return config


@keras.saving.register_keras_serializable(package="keras_fer")
class PositionEmbedding(keras.layers.Layer):
    """Add a learned embedding per sequence position to (N, T, D) tokens (T fixed at build).

    Args:
        stddev: standard deviation of the normal initializer (0.02, as in ViT).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Example:
        >>> import numpy as np
        >>> tuple(PositionEmbedding()(np.zeros((2, 65, 192), "float32")).shape)
        (2, 65, 192)
    """

    def __init__(self, stddev=0.02, **kwargs):
        super().__init__(**kwargs)
        self.stddev = float(stddev)

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]), name="embedding",
            initializer=keras.initializers.RandomNormal(stddev=self.stddev))

    def call(self, inputs):
        return inputs + ops.cast(self.embedding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev})
        return config
