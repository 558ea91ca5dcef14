"""A residual PReLU network for 48x48 FER2013, inputs scaled to [-1, 1], tanh output.

Shapes at 48x48: conv5x5·44 (padding 1) 46 -> maxpool 3/2 22; conv5x5·40 (padding 1) 20 ->
maxpool 3/2 9; conv3x3·36 (padding 1) 9 -> avgpool 3/1 7: 7*7*36 = 1764 features.
The issue leaves the residual's source open: we take block 2's input (22x22x44), a 1x1 conv·40
with stride 2 (11x11) and crop one pixel per side (9x9): output pixel i of the main path is
centred on input pixel 2i+2, and so is cropped shortcut pixel i, so the two are aligned.
"""
import keras

from keras_fer.models.common import image_input, predictions, preprocess
from keras_fer.models.comparison import apply_padded_conv
from keras_fer.models.registry import register_model


def apply_prelu_conv(x, filters, kernel_size, pool, name):
    """conv (padding 1) -> PReLU (one slope per channel) -> pooling (3x3)."""
    x = apply_padded_conv(x, filters, kernel_size, name=f"{name}_conv")
    x = keras.layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
    if pool == "max":
        return keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return keras.layers.AveragePooling2D(3, strides=1, name=f"{name}_pool")(x)


@register_model
def prelu_resnet(input_shape=None, num_classes=7, dropout=0.5):
    """Residual PReLU net. "predictions" is Dense(num_classes, tanh): its outputs lie in
    [-1, 1] and are used as logits (softmax over them for probabilities)."""
    inputs = image_input(input_shape)
    x = preprocess(inputs, scale="symmetric")
    x = apply_prelu_conv(x, 44, 5, "max", name="block1")
    x1 = keras.layers.BatchNormalization(name="block1_bn")(x)
    x = apply_prelu_conv(x1, 40, 5, "max", name="block2")
    x = keras.layers.BatchNormalization(name="block2_bn")(x)
    shortcut = keras.layers.Conv2D(40, 1, strides=2, name="block2_shortcut")(x1)
    shortcut = keras.layers.Cropping2D(1, name="block2_shortcut_crop")(shortcut)
    x = keras.layers.Add(name="block2_add")([x, shortcut])
    x = apply_prelu_conv(x, 36, 3, "avg", name="block3")
    x = keras.layers.BatchNormalization(name="block3_bn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(70, activation="elu", name="features")(x)
    return keras.Model(inputs, predictions(x, num_classes, activation="tanh"), name="prelu_resnet")
