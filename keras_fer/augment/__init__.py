"""Augmentation as batched, backend-agnostic ``keras.ops`` that run inside the training step.

``Augment`` is the layer (built from ``TrainConfig.augment`` with ``Augment.from_config_dict``),
``AugmentEpoch`` the callback for its alternate-epoch schedule; ``fit_to``, ``tta_views`` and
``mix`` are the functions other modules use (see docs/DESIGN.md). ``python -m keras_fer.augment``
previews a config (see ``keras_fer.augment.cli``).

The names are imported lazily so that ``python -m keras_fer.augment --help`` (and a bad option)
answers without importing Keras.

Example:
    >>> from keras_fer.augment import Augment
    >>> layer = Augment.from_config_dict({"flip": True, "crop": 44})
"""
from keras_fer.lazy import lazy_exports

_EXPORTS = {
    "Augment": "layer", "AugmentEpoch": "layer", "find_augment_layers": "layer",
    "adjust_brightness": "ops", "adjust_contrast": "ops", "adjust_sharpness": "ops",
    "affine_params": "ops", "affine_warp": "ops", "center_crop": "ops", "fit_to": "ops",
    "five_crops": "ops", "flip_left_right": "ops", "mix": "ops", "random_erasing": "ops",
    "rotate": "ops", "tta_views": "ops",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
