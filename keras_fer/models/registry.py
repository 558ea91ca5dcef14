"""The model registry (timm style): ``@register_model`` entrypoints selected by name."""
from __future__ import annotations

import inspect
import math

from keras_fer.errors import UserError

_REGISTRY: dict = {}


def register_model(fn=None, *, name=None):
    """Register ``fn(**overrides) -> keras.Model`` under ``name`` (default: the function's name).

    Example:
        >>> @register_model
        ... def my_net(input_shape=None, num_classes=7):
        ...     ...
    """

    def wrap(f):
        key = name or f.__name__
        if key in _REGISTRY and _REGISTRY[key] is not f:
            raise ValueError(f"model {key!r} is registered twice")
        _REGISTRY[key] = f
        return f

    return wrap(fn) if fn is not None else wrap


def list_models() -> list:
    """The registered names, sorted."""
    return sorted(_REGISTRY)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# The entrypoints' numeric arguments mean the same in every model: their ranges, checked
# before any model is built (a width of -1 would quietly become 8 filters: scale_widths' floor).
ARG_RANGES = {
    "width": ("a number > 0", lambda v: _number(v) and v > 0),
    "dropout": ("a number in [0, 1)", lambda v: _number(v) and 0 <= v < 1),
    "bn_momentum": ("a number in [0, 1)", lambda v: _number(v) and 0 <= v < 1),
    "alpha": ("a number in [0, 1]", lambda v: _number(v) and 0 <= v <= 1),
    "lam": ("a number >= 0", lambda v: _number(v) and v >= 0),
    "l2": ("a number >= 0", lambda v: _number(v) and v >= 0),
    "image_size": ("an integer >= 32", lambda v: _number(v) and v == int(v) and v >= 32),
    # VGG's conv stages kept (keras_fer.models.vgg: five, each ending in a 2x2 max pooling)
    "stages": ("an integer from 1 to 5", lambda v: _number(v) and v == int(v) and 1 <= v <= 5),
}


def check_model_args(args, where="model_args") -> None:
    """A UserError naming the first of ``args`` (a model's overrides) outside its range
    (``ARG_RANGES``); needs no Keras, so a config is checked before anything is imported."""
    for key, value in args.items():
        if key in ARG_RANGES and not ARG_RANGES[key][1](value):
            raise UserError(f"{where}: {key} must be {ARG_RANGES[key][0]}, got {value!r}")


def create_model(name, /, **overrides):
    """Build the registered model ``name`` with ``overrides`` (input_shape, num_classes, ...).

    ``name`` is positional-only so that an override may itself be called ``name``.
    """
    if name not in _REGISTRY:
        raise UserError(f"unknown model {name!r} (known: {', '.join(list_models())})")
    check_model_args(overrides, f"model {name!r}")
    fn = _REGISTRY[name]
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            raise UserError(f"model {name!r}: unknown argument {unknown[0]!r} "
                            f"(known: {', '.join(params)})")
    return fn(**overrides)


def aux_loss_layers(model) -> list:
    """The layers of ``model`` (nested models included) that add a training loss
    (they have ``loss_and_update(*inputs, labels, training)``), in graph order."""
    found = []
    for layer in model.layers:
        if hasattr(layer, "loss_and_update"):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(aux_loss_layers(layer))
    return found


def trainable_params(model) -> int:
    """Number of trainable parameters (what the papers count)."""
    import math

    return int(sum(math.prod(w.shape) for w in model.trainable_weights))
