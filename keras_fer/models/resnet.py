"""ResNet-18 (CIFAR stem at 48x48, ImageNet stem at 224x224) and ResNet-50 (keras.applications)."""
import os

import keras

from keras_fer.errors import UserError, UserFileNotFound
from keras_fer.models.common import image_input, load_local_weights, predictions, preprocess
from keras_fer.models.registry import register_model


def apply_basic_block(x, filters, stride=1, name=None):
    """ResNet basic block: 3x3 conv-BN-ReLU, 3x3 conv-BN, (1x1 conv-BN) shortcut, add, ReLU."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                       name=f"{name}_down_conv")(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_down_bn")(shortcut)
    if stride != 1:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding="valid" if stride != 1 else "same",
                            use_bias=False, name=f"{name}_conv1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn2")(x)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def apply_resnet18(x, stem="cifar"):
    """The ResNet-18 trunk; returns the last feature map (layer "stage4_block2_out").

    stem "cifar": 3x3·64 conv, stride 1, no max pool (48 -> 6x6x512 map);
    stem "imagenet": 7x7·64 conv stride 2 + 3x3 max pool stride 2 (224 -> 7x7x512 map).
    """
    if stem == "imagenet":
        x = keras.layers.ZeroPadding2D(3, name="stem_pad")(x)
        x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False, name="stem_conv")(x)
    elif stem == "cifar":
        x = keras.layers.Conv2D(64, 3, padding="same", use_bias=False, name="stem_conv")(x)
    else:
        raise UserError(f"resnet18: stem must be 'cifar' or 'imagenet', got {stem!r}")
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    if stem == "imagenet":
        x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in (1, 2):
            stride = 2 if stage > 1 and block == 1 else 1
            x = apply_basic_block(x, filters, stride, name=f"stage{stage}_block{block}")
    return x


def _resnet18(input_shape, num_classes, stem, weights, name):
    inputs = image_input(input_shape)
    if stem == "imagenet":  # ImageNet layout: 224x224, 3 channels (a pretrained file fits)
        x = preprocess(inputs, size=224, channels=3)
    else:
        x = preprocess(inputs)
    x = apply_resnet18(x, stem)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    model = keras.Model(inputs, predictions(x, num_classes), name=name)
    return load_local_weights(model, weights)


@register_model
def resnet18(input_shape=None, num_classes=7, stem="cifar", weights=None):
    """ResNet-18 with the CIFAR stem on 48x48 gray input (11.2M parameters)."""
    return _resnet18(input_shape, num_classes, stem, weights, "resnet18")


@register_model
def resnet18_224(input_shape=None, num_classes=7, weights=None):
    """ResNet-18 with the ImageNet stem: the input is resized to 224x224 and repeated to RGB."""
    return _resnet18(input_shape, num_classes, "imagenet", weights, "resnet18_224")


RESNET50_NOTOP = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"  # keras.applications' name
RESNET50_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/resnet/{RESNET50_NOTOP}"


@register_model
def resnet50(input_shape=None, num_classes=7, weights=None, image_size=224):
    """keras.applications ResNet-50 (caffe preprocessing inside) on the gray input resized to
    ``image_size`` and repeated to RGB.

    Args:
        weights: None (random initialisation) or the path of a local ResNet-50 "notop" weights
            file: keras.applications' ``RESNET50_NOTOP`` (.h5, from ``RESNET50_URL``) or a
            ``.weights.h5`` of this backbone. Nothing is downloaded at run time, so "imagenet"
            is a UserError that says to download the file once and pass its path.

    Example:
        >>> model = build("resnet50", weights="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    """
    if weights == "imagenet":
        raise UserError(f"resnet50: weights='imagenet' would download them at run time, which "
                        f"keras_fer never does: download {RESNET50_URL} once and pass its path "
                        "as weights")
    if weights is not None and not os.path.isfile(os.fspath(weights)):
        raise UserFileNotFound(f"{weights}: weights file not found (use None or a local file)")
    inputs = image_input(input_shape)
    x = preprocess(inputs, size=image_size, channels=3, scale="caffe")
    try:
        backbone = keras.applications.ResNet50(include_top=False, weights=weights,
                                               input_shape=(image_size, image_size, 3))
    except Exception as e:  # a file of another architecture
        raise UserError(f"resnet50: cannot load weights {weights!r}: {str(e).splitlines()[0]}") from None
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, predictions(x, num_classes), name="resnet50")
