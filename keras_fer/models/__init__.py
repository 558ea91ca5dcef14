"""The model zoo: one registry of FER architectures, and block CNNs defined in JSON.

Every model takes float32 grayscale images in [0, 255] of shape (H, W, 1) (default (48, 48, 1);
vgg19 (44, 44, 1); 224-pixel nets resize inside), scales them itself and returns logits from a
Dense layer named "predictions"; the layer named "features" gives the vector the head reads.

    >>> from keras_fer.models import build
    >>> model = build("baseline")                       # a registry name
    >>> model = build("my_net.json")                    # a block-CNN definition file
    >>> model = build({"blocks": [{"filters": 16}]})    # a block-CNN definition dict

``python -m keras_fer.models list`` prints each name with its trainable parameter count (see
``keras_fer.models.cli``).

The names are imported lazily so that ``python -m keras_fer.models --help`` (and a bad option)
answers without importing Keras; each comes from ``keras_fer.models.core``, whose import
registers every family (``import keras_fer.models.core`` for the registration alone).
"""
from keras_fer.lazy import lazy_exports

_EXPORTS = {
    "register_model": "core", "create_model": "core", "build": "core", "list_models": "core",
    "aux_loss_layers": "core", "trainable_params": "core",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
