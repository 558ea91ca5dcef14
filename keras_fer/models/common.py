"""Pieces every family shares: the grayscale [0, 255] input, in-model preprocessing, the head."""
from __future__ import annotations

import os

import keras

from keras_fer.errors import UserError, UserFileNotFound
from keras_fer.layers import GrayscaleToRGB


def image_input(input_shape=None, default=(48, 48, 1)):
    """``keras.Input`` for float32 grayscale images in [0, 255] of shape (H, W, 1)."""
    shape = tuple(int(s) for s in (input_shape or default))
    if len(shape) != 3 or shape[-1] != 1 or min(shape) < 1:
        raise UserError(f"input_shape must be (height, width, 1) grayscale, got {list(shape)}")
    return keras.Input(shape=shape, name="image", dtype="float32")


def preprocess(x, size=None, channels=1, scale="unit"):
    """Resize to ``size`` x ``size`` (if the input differs), rescale and repeat channels.

    scale: "unit" -> [0, 1]; "symmetric" -> [-1, 1]; "caffe" -> ImageNet BGR mean subtracted
    (keras.applications ResNet50); "none".
    """
    if size is not None and tuple(x.shape[1:3]) != (size, size):
        x = keras.layers.Resizing(size, size, interpolation="bilinear", name="resize")(x)
    if scale == "unit":
        x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    elif scale == "symmetric":
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(x)
    if channels != 1:
        x = GrayscaleToRGB(channels, name="to_rgb")(x)
    if scale == "caffe":
        x = keras.layers.Normalization(mean=[103.939, 116.779, 123.68], variance=[1.0, 1.0, 1.0],
                                       name="caffe_mean")(x)
    return x


def scaled_channels(channels, width, minimum=1) -> int:
    """``channels`` times a family's ``width`` argument, rounded, at least ``minimum``."""
    return max(minimum, int(round(channels * width)))


def predictions(x, num_classes, activation=None):
    """The classifier: a Dense layer named "predictions" (logits unless ``activation``); float32
    even under a mixed-precision policy."""
    return keras.layers.Dense(int(num_classes), activation=activation, name="predictions",
                              dtype="float32")(x)


def load_local_weights(model, weights):
    """``weights``: None, or a local ``.weights.h5`` / ``.keras`` file of the same architecture."""
    if weights is None:
        return model
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise UserFileNotFound(f"{path}: weights file not found (weights must be a local file or None)")
    try:
        if path.endswith(".keras"):
            model.set_weights(keras.saving.load_model(path, compile=False).get_weights())
        else:
            model.load_weights(path)
    except (ValueError, OSError) as e:
        raise UserError(f"{path}: cannot load weights: {str(e).splitlines()[0]}") from None
    return model


def _float32_config(node):
    """A serialised model config with every mixed dtype policy (and the bf16/fp16 tensors between
    layers) set to float32."""
    if isinstance(node, list):
        return [_float32_config(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _float32_config(v) for k, v in node.items()}
    if node.get("class_name") == "DTypePolicy" and str(node["config"].get("name", "")).startswith("mixed"):
        node["config"] = {**node["config"], "name": "float32"}
    if (node.get("class_name") == "__keras_tensor__"
            and node["config"].get("dtype") in ("bfloat16", "float16")):
        node["config"] = {**node["config"], "dtype": "float32"}
    return node


def float32_copy(model):
    """``model`` itself when it computes in float32, else a float32 copy of a mixed-precision
    model with the same weights (mixed precision keeps its variables in float32, so the copy is
    exact). Inference, export and TFLite conversion want float32: TFLite cannot convert bf16 ops.
    """
    config = keras.saving.serialize_keras_object(model)
    float32_config = _float32_config(config)
    if float32_config == config:
        return model
    copy = keras.saving.deserialize_keras_object(float32_config)
    copy.set_weights(model.get_weights())
    return copy
