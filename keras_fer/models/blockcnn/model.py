"""The JSON-defined block CNN (see ``definition.py`` for the keys)."""
from __future__ import annotations

import keras

from keras_fer.models.blockcnn.definition import validate
from keras_fer.models.common import image_input, predictions, preprocess


def apply_conv_block(x, block, name):
    """``convs`` x (conv "same" -> norm -> ReLU), then 2x2 pooling and dropout."""
    for i, (filters, kernel) in enumerate(zip(block["filters"], block["kernel_size"]), start=1):
        x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=block["norm"] == "none",
                                name=f"{name}_conv{i}")(x)
        if block["norm"] == "batch":
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        elif block["norm"] == "instance":
            x = keras.layers.GroupNormalization(groups=-1, name=f"{name}_in{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    if block["pool"] == "max":
        x = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    elif block["pool"] == "avg":
        x = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    if block["dropout"]:
        x = keras.layers.Dropout(block["dropout"], name=f"{name}_dropout")(x)
    return x


def apply_head(x, head):
    """Adaptive average pool to a grid, flatten, hidden Dense+ReLU(+dropout); the last vector
    before "predictions" is the layer named "features"."""
    if head["pool_grid"] == 1:
        # the same mean; Keras 3.15's AdaptiveAveragePooling2D to 1x1 fails inside tf.function
        # (it asks for a 13-wide window on a 12x12 map), which is where fit() runs it
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
    elif head["pool_grid"] is not None:
        grid = head["pool_grid"]
        x = keras.layers.AdaptiveAveragePooling2D((grid, grid), name="head_pool")(x)
    x = keras.layers.Flatten(name="features" if not head["dense"] else "flatten")(x)
    for i, units in enumerate(head["dense"], start=1):
        last = i == len(head["dense"])
        x = keras.layers.Dense(units, activation="relu", name="features" if last else f"head_dense{i}")(x)
        if head["dropout"]:
            x = keras.layers.Dropout(head["dropout"], name=f"head_dropout{i}")(x)
    return x


def block_cnn(definition, input_shape=None, num_classes=7, source="model definition"):
    """Build a block CNN from a definition dict (validated; UserError on a bad key)."""
    definition = validate(definition, source=source)
    inputs = image_input(input_shape)
    x = preprocess(inputs, scale="unit")
    for b, block in enumerate(definition["blocks"], start=1):
        x = apply_conv_block(x, block, name=f"block{b}")
    x = apply_head(x, definition["head"])
    return keras.Model(inputs, predictions(x, num_classes), name=definition["name"])
