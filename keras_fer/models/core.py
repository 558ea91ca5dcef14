"""``build``: a model from a registry name, a block-CNN definition file or dict.

Importing this module registers every family's models (and their custom layers): the registry
(``keras_fer.models.registry``) is filled by these imports, so whatever asks for ``create_model``,
``build`` or ``list_models`` imports them from here (``keras_fer.models`` does, lazily).
"""
from __future__ import annotations

import os

# Imported for what they register: the shared custom layers (the center loss among them), and
# every family's @register_model entrypoints (and custom layers). tests/test_layout.py checks
# that every family is imported here.
import keras_fer.layers  # noqa: F401
from keras_fer.errors import UserError
from keras_fer.models import blockcnn, comparison, dacl, prelu, resnet, vgg, vit, xception  # noqa: F401
from keras_fer.models.registry import (
    aux_loss_layers,
    create_model,
    list_models,
    register_model,
    trainable_params,
)

__all__ = ["register_model", "create_model", "build", "list_models", "aux_loss_layers",
           "trainable_params"]


def build(name_or_config, input_shape=None, num_classes=7, **overrides):
    """A model from a registry name, a ``.json`` block-CNN definition file, or a definition dict.

    Args:
        name_or_config: registry name | path ending in ``.json`` | block-CNN definition dict.
        input_shape: (H, W, 1); None: the model's default.
        num_classes: size of the "predictions" layer.
        **overrides: passed to the registry entrypoint (or, for a definition, replacing its
            top-level keys).

    Raises:
        UserError: unknown name, missing file, or a malformed definition (naming the key).
    """
    if isinstance(name_or_config, dict):
        return blockcnn.block_cnn({**name_or_config, **overrides}, input_shape, num_classes)
    if isinstance(name_or_config, (str, os.PathLike)) and os.fspath(name_or_config).endswith(".json"):
        path = os.fspath(name_or_config)
        definition = {**blockcnn.load_definition(path), **overrides}
        return blockcnn.block_cnn(definition, input_shape, num_classes, source=path)
    if not isinstance(name_or_config, str):
        raise UserError(f"model must be a name, a .json file or a definition dict, got {name_or_config!r}")
    return create_model(name_or_config, input_shape=input_shape, num_classes=num_classes, **overrides)
