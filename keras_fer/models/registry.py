"""The model registry (timm style): ``@register_model`` entrypoints selected by name."""
from __future__ import annotations

import inspect

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


def create_model(name, /, **overrides):
    """Build the registered model ``name`` with ``overrides`` (input_shape, num_classes, ...).

    ``name`` is positional-only so that an override may itself be called ``name``.
    """
    if name not in _REGISTRY:
        raise UserError(f"unknown model {name!r} (known: {', '.join(list_models())})")
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
