"""Models 1, 2 and 3 of a published FER2013 CNN comparison (3-channel input: gray repeated).

"padding 1" is ZeroPadding2D(1) + a valid conv. Derivation of the input size from the paper's
trainable parameter counts (conv/dense weights + biases, BN gamma/beta):

* Model 1: convs 5*5*3*64+64 + 5*5*64*128+128 = 209,792; dense 7: 903; dense 128: 128*F+128.
  1,849,223 => F = 12,800 = 128 x 10 x 10. With padding 1 a 5x5 conv takes 2 pixels off:
  48 -> 46 -> pool 23 -> 21 -> pool 10. So the input is 48x48x3.
* Model 2: convs 1,792 + 73,856 + 295,168; dense 256: 131,328; dense 7: 1,799;
  dense 512: 512*F+512. 5,223,047 => F = 9,216 = 256 x 6 x 6: 3x3 convs keep the size,
  48 -> 24 -> 12 -> 6. Input 48x48x3.
* Model 3: bias-free convs 1,728 + 204,800 + 1,605,632 + 3,276,800, BN 1,920, dense 128/64/7:
  32,896 + 8,256 + 455, dense 256: 256*F+256. 8,409,543 => F = 12,800 = 512 x 5 x 5.
  With padding 1 (3x3 keeps, 5x5 -2, 7x7 -4) an input of side S gives
  (((S/2 - 2)/2 - 4)/2 - 2)/2 = 5 only for S in 116..131; at 48x48 the map would be 1x1
  (4,132,... parameters, not the paper's). So Model 3 resizes its (48, 48, 1) input to
  128x128 inside (128 -> 64 -> 62 -> 31 -> 27 -> 13 -> 11 -> 5): the paper's count exactly.
"""
import keras

from keras_fer.models.common import image_input, predictions, preprocess
from keras_fer.models.registry import register_model


def apply_padded_conv(x, filters, kernel_size, use_bias=True, name=None):
    """ZeroPadding2D(1) then a valid conv: PyTorch's ``Conv2d(..., padding=1)``."""
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel_size, use_bias=use_bias, name=name)(x)


def apply_dense_stack(x, units, dropout=0.0, name="dense"):
    """Dense+ReLU layers (dropout after each when > 0); the last is named "features"."""
    for i, u in enumerate(units, start=1):
        last = i == len(units)
        x = keras.layers.Dense(u, activation="relu", name="features" if last else f"{name}{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    return x


@register_model
def cnn_model1(input_shape=None, num_classes=7):
    """Model 1: conv5x5·64, maxpool, ReLU, conv5x5·128, maxpool, ReLU, dense 128, dense 7."""
    inputs = image_input(input_shape)
    x = preprocess(inputs, channels=3)
    for i, filters in enumerate((64, 128), start=1):
        x = apply_padded_conv(x, filters, 5, name=f"conv{i}")
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = apply_dense_stack(x, [128])
    return keras.Model(inputs, predictions(x, num_classes), name="cnn_model1")


@register_model
def cnn_model2(input_shape=None, num_classes=7):
    """Model 2: conv3x3·64/128/256 each ReLU + maxpool, dense 512, 256 (dropout 0.5), dense 7."""
    inputs = image_input(input_shape)
    x = preprocess(inputs, channels=3)
    for i, filters in enumerate((64, 128, 256), start=1):
        x = apply_padded_conv(x, filters, 3, name=f"conv{i}")
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = apply_dense_stack(x, [512, 256], dropout=0.5)
    return keras.Model(inputs, predictions(x, num_classes), name="cnn_model2")


@register_model
def cnn_model3(input_shape=None, num_classes=7, image_size=128):
    """Model 3: bias-free conv 3x3·64, 5x5·128, 7x7·256, 5x5·512 each BN, ReLU, maxpool;
    dense 256/128/64 with dropout 0.5; dense 7. Resizes to ``image_size`` inside (see above)."""
    inputs = image_input(input_shape)
    x = preprocess(inputs, size=image_size, channels=3)
    for i, (filters, kernel) in enumerate(((64, 3), (128, 5), (256, 7), (512, 5)), start=1):
        x = apply_padded_conv(x, filters, kernel, use_bias=False, name=f"conv{i}")
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = apply_dense_stack(x, [256, 128, 64], dropout=0.5)
    return keras.Model(inputs, predictions(x, num_classes), name="cnn_model3")
