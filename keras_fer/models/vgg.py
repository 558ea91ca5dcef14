"""VGG13 and VGG19 in the CIFAR style for 44x44 FER2013 crops (the best-known public FER2013
recipe trains VGG19; VGG13 has half its weights, 9.4M, so that a release of it, .keras plus
SavedModel, stays under 100 MB)."""
import keras

from keras_fer.models.common import image_input, predictions, preprocess, scaled_channels
from keras_fer.models.registry import register_model

VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
             512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
VGG13_CFG = (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


# Keras' BatchNormalization momentum 0.99 keeps 99% of the running statistics each step;
# PyTorch's BatchNorm2d (momentum=0.1), which the published recipe trains with, keeps 90%, and
# so does this. Measured on a CPU (recipes/best.json in float32, 3,000 Training images, 8 epochs,
# 24 steps each): validation loss peaked at 379 with 0.99 and at 27 with 0.9 around the
# learning rate's peak, and ended at 6.3 and 1.9; neither learned more than the majority class
# in so few steps, so this is no accuracy figure.
BN_MOMENTUM = 0.9


def apply_vgg_stack(x, cfg=VGG19_CFG, bn_momentum=BN_MOMENTUM, name="vgg"):
    """3x3 conv -> BN -> ReLU for each int in ``cfg``, 2x2 max pooling for each "M"."""
    conv, pool = 0, 0
    for item in cfg:
        if item == "M":
            pool += 1
            x = keras.layers.MaxPooling2D(2, name=f"{name}_pool{pool}")(x)
            continue
        conv += 1
        x = keras.layers.Conv2D(item, 3, padding="same", name=f"{name}_conv{conv}")(x)
        x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{conv}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{conv}")(x)
    return x


def scale_widths(cfg, width):
    """``cfg`` with every convolution's channels multiplied by ``width`` (at least 8)."""
    return tuple(v if v == "M" else scaled_channels(v, width, minimum=8) for v in cfg)


def first_stages(cfg, stages):
    """``cfg`` up to and including its ``stages``-th max pooling; ValueError outside 1..all."""
    ends = [i for i, v in enumerate(cfg) if v == "M"]
    if not 1 <= stages <= len(ends):
        raise ValueError(f"stages must be between 1 and {len(ends)}, got {stages}")
    return tuple(cfg[:ends[int(stages) - 1] + 1])


def _vgg(cfg, input_shape, num_classes, dropout, bn_momentum, name, width=1.0, stages=5):
    """The stack on (44, 44, 1): 44 -> 22 -> 11 -> 5 -> 2 -> 1 (its first ``stages`` stages),
    global average pooling ("features", 512 x ``width``), dropout, dense."""
    inputs = image_input(input_shape, default=(44, 44, 1))
    cfg = scale_widths(first_stages(cfg, stages), width)
    x = apply_vgg_stack(preprocess(inputs), cfg, bn_momentum)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, predictions(x, num_classes), name=name)


@register_model
def vgg19(input_shape=None, num_classes=7, dropout=0.5, bn_momentum=BN_MOMENTUM, width=1.0,
          stages=5):
    """VGG19 (BN), CIFAR style, on (44, 44, 1): 16 convolutions, 20.0M weights (``width``
    multiplies every convolution's channels; ``stages`` < 5 keeps the first stages only)."""
    return _vgg(VGG19_CFG, input_shape, num_classes, dropout, bn_momentum, "vgg19", width,
                stages)


@register_model
def vgg13(input_shape=None, num_classes=7, dropout=0.5, bn_momentum=BN_MOMENTUM, width=1.0,
          stages=5):
    """VGG13 (BN), CIFAR style, on (44, 44, 1): 10 convolutions, 9.4M weights (``width``
    multiplies every convolution's channels: 0.5 has 2.36M and a quarter of the FLOPs;
    ``stages`` < 5 keeps the first stages only: ``width=0.5, stages=4`` has 1.18M, and its
    int8 model answers a face in about three quarters of the time, its 2x2 stage dropped)."""
    return _vgg(VGG13_CFG, input_shape, num_classes, dropout, bn_momentum, "vgg13", width,
                stages)
