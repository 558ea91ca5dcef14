"""Augmentation as batched, backend-agnostic ``keras.ops`` that run inside the training step.

``Augment`` is the layer (built from ``TrainConfig.augment`` with ``Augment.from_config_dict``),
``AugmentEpoch`` the callback for its alternate-epoch schedule; ``fit_to``, ``tta_views`` and
``mix`` are the functions other modules use (see docs/DESIGN.md).
"""
from keras_fer.augment.layer import Augment, AugmentEpoch, find_augment_layers
from keras_fer.augment.ops import (
    adjust_brightness,
    adjust_contrast,
    adjust_sharpness,
    affine_params,
    affine_warp,
    center_crop,
    fit_to,
    five_crops,
    flip_left_right,
    mix,
    random_erasing,
    rotate,
    tta_views,
)

__all__ = [
    "Augment", "AugmentEpoch", "find_augment_layers", "adjust_brightness",
    "adjust_contrast", "adjust_sharpness", "affine_params", "affine_warp", "center_crop", "fit_to",
    "five_crops", "flip_left_right", "mix", "random_erasing", "rotate", "tta_views",
]
