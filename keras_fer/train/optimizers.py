"""Optimizers from a config dict: ``{"name": "sgd", "learning_rate": 0.01, "momentum": 0.9,
"nesterov": true, "weight_decay": 5e-4}``.

Names: sgd, adam, adamw, rmsprop, adamax, adagrad. Every Keras argument of the optimizer is a
valid key (``weight_decay``, ``clipnorm``, ``beta_1`` ...); an unknown key is a UserError.
"""
from __future__ import annotations

import inspect

import keras

from keras_fer.errors import UserError

OPTIMIZERS = {
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "adamax": keras.optimizers.Adamax,
    "adagrad": keras.optimizers.Adagrad,
}


def base_learning_rate(spec: dict) -> float:
    lr = spec.get("learning_rate", spec.get("lr", 0.01))
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise UserError(f"optimizer: learning_rate must be a positive number, got {lr!r}")
    return float(lr)


def build_optimizer(spec: dict, learning_rate=None, ema=None) -> keras.optimizers.Optimizer:
    """The Keras optimizer of ``spec``; ``learning_rate`` (a float or a
    ``keras.optimizers.schedules.LearningRateSchedule``) replaces the spec's rate when given;
    ``ema`` (a momentum such as 0.999) makes it keep an exponential moving average of the
    weights (Keras' ``use_ema``; ``keras.callbacks.SwapEMAWeights`` swaps it in).

    Example:
        >>> opt = build_optimizer({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    """
    spec = dict(spec)
    name = str(spec.pop("name", "")).lower()
    if name not in OPTIMIZERS:
        raise UserError(f"optimizer: unknown name {name!r} (known: {', '.join(OPTIMIZERS)})")
    cls = OPTIMIZERS[name]
    base = base_learning_rate(spec)
    spec.pop("lr", None)
    spec["learning_rate"] = base if learning_rate is None else learning_rate
    allowed = set(inspect.signature(cls).parameters) - {"kwargs", "name"}
    for key in spec:
        if key not in allowed:
            raise UserError(f"optimizer {name}: unknown setting {key!r} "
                            f"(known: {', '.join(sorted(allowed))})")
    if ema is not None:
        spec.update(use_ema=True, ema_momentum=float(ema))
    try:
        return cls(**spec)
    except (TypeError, ValueError) as e:
        raise UserError(f"optimizer {name}: {e}") from None
