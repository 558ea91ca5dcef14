"""The search spaces of ``python -m tuning --space NAME``, each declared here in one place.

A :class:`Space` is the settings every trial shares (``fixed``, under the ``--config`` base),
``declare(hp)`` (every hyperparameter named, with its range and default; returns the values by
name, None for one whose condition is off) and ``apply(base, values, steps_per_epoch)`` (the
``TrainConfig`` of one point). The best trial is retrained with the same ``apply``, so what a
trial trains and what is retrained differ only in the data and the epochs.

- ``blockcnn``: the FER2013 ablation study's block CNN (depth, widths 16 to 64, kernels, norm)
  with its optimizer, weight decay, dropout and an augmentation level.
- ``efficient``: the networks that win on accuracy per CPU-hour (width-scaled VGG13/VGG19 on 44x44
  crops, mini-Xception) and the training features around recipes/cpu_long.json: optimizer and
  rate, schedule, label smoothing, L2, random erasing, mixup/cutmix, EMA of the weights. Its
  defaults are that recipe; a CPU search's are recipes/cpu.json, ``make train``'s
  (``Space.cpu_recipe``, ``efficient_values``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

from keras_fer.config import TrainConfig
from keras_fer.errors import UserError

# ---- blockcnn: the registered block CNN whose blocks/head the search replaces ----
MODEL_NAME = "baseline"
NORMS = ("none", "batch", "instance")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
KERNELS = (3, 5, 7)
WIDTHS = (16, 32, 48, 64)
# Augmentation strength -> keras_fer.augment config (flip, small affine jitter, brightness).
AUGMENT_LEVELS = {
    "none": {},
    "light": {"flip": True, "rotation": 5, "translate": 0.05},
    "medium": {"flip": True, "rotation": 10, "translate": 0.1, "scale": 0.1},
    "strong": {"flip": True, "rotation": 15, "translate": 0.15, "scale": 0.2,
               "brightness": 0.2, "contrast": 0.2},
}


def declare(hp) -> dict:
    """Declare (or read) every hyperparameter of the block-CNN space; returns their values."""
    return {
        "depth": hp.Int("depth", 4, 8, default=5),
        "width": hp.Choice("width", list(WIDTHS), default=32),
        "kernel1": hp.Choice("kernel1", list(KERNELS), default=3),
        "kernel2": hp.Choice("kernel2", list(KERNELS), default=3),
        "norm": hp.Choice("norm", list(NORMS), default="batch"),
        "optimizer": hp.Choice("optimizer", list(OPTIMIZERS), default="adam"),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3),
        "weight_decay": hp.Float("weight_decay", 1e-6, 1e-2, sampling="log", default=1e-4),
        "dropout": hp.Float("dropout", 0.0, 0.6, step=0.1, default=0.3),
        "augment": hp.Choice("augment", list(AUGMENT_LEVELS), default="light"),
    }


def model_definition(values: dict) -> dict:
    """The block-CNN definition (keras_fer.models.blockcnn) of ``depth`` conv layers.

    As in the FER2013 ablation study the space is built around: two blocks of two convs
    (``width``, then ``2 * width`` filters; the first two kernels ``kernel1``/``kernel2``), then
    one block of ``depth - 4`` convs (``4 * width``, the last ``8 * width``), each block
    max-pooled; head: adaptive pool to 5x5, dense 64, ``dropout``. depth 7 at width 32 is the
    study's 7-layer model.
    """
    depth, width, norm = int(values["depth"]), int(values["width"]), str(values["norm"])
    blocks = [{"filters": [width, width], "kernel_size": [int(values["kernel1"]), int(values["kernel2"])],
               "norm": norm, "pool": "max"},
              {"filters": [2 * width, 2 * width], "kernel_size": 3, "norm": norm, "pool": "max"}]
    if depth > 4:
        filters = [4 * width] * (depth - 5) + [8 * width]
        blocks.append({"filters": filters, "kernel_size": 3, "norm": norm, "pool": "max"})
    # no "name": registry entrypoints take it as create_model's own first argument
    return {"blocks": blocks,
            "head": {"pool_grid": 5, "dense": [64], "dropout": float(values["dropout"])}}


def config_from_values(base: TrainConfig, values: dict, steps_per_epoch=None) -> TrainConfig:
    """The TrainConfig of one point of the block-CNN space (``values`` as ``declare`` returns
    them): the registered block CNN ``baseline`` with its blocks/head replaced through
    ``model_args``. ``steps_per_epoch`` is unused (the efficient space's EMA needs it)."""
    optimizer = {"name": str(values["optimizer"]), "learning_rate": float(values["learning_rate"]),
                 "weight_decay": float(values["weight_decay"])}
    if optimizer["name"] == "sgd":
        optimizer.update(momentum=0.9, nesterov=True)
    return base.replace(model=MODEL_NAME, model_args=model_definition(values), optimizer=optimizer,
                        augment=dict(AUGMENT_LEVELS[str(values["augment"])]))


# ---- efficient: recipes/cpu_long.json and its neighbours ----
EFFICIENT_MODELS = ("vgg13", "vgg19", "mini_xception")
VGG_WIDTHS = (0.25, 0.375, 0.5, 0.75)
CROP = 44  # every network of the space sees 44x44 crops of the 48x48 faces, as the recipe's VGG13
EFFICIENT_FIXED = {
    "batch_size": 128, "mixed_precision": True,
    "augment": {"flip": True, "crop": CROP, "pad": 0,
                "affine": {"rotation": 10, "translate": 0.1, "scale": [0.9, 1.1]}},
}
MIX = ("none", "mixup", "cutmix")
SCHEDULES = ("cosine", "step")
EMA_MOMENTUM = 0.999


# the space's defaults: recipes/cpu_long.json's values (``declare_efficient``'s ``defaults``
# replaces them: the CPU search centres the space on recipes/cpu.json, ``efficient_values``)
EFFICIENT_DEFAULTS = {"model": "vgg13", "width": 0.75, "optimizer": "sgd",
                      "sgd_learning_rate": 0.05, "adam_learning_rate": 1e-3, "schedule": "cosine",
                      "label_smoothing": 0.1, "l2": 5e-4, "erasing": 0.5, "mix": "none",
                      "ema": True}
LABEL_SMOOTHING = (0.0, 0.1, 0.2)
ERASING = (0.0, 0.25, 0.5)


def declare_efficient(hp, widths=VGG_WIDTHS, defaults=None, models=EFFICIENT_MODELS) -> dict:
    """Declare (or read) every hyperparameter of the efficient space; returns their values
    (None where the condition is off: ``width`` for mini_xception, the other optimizer's rate).
    ``widths``: the VGG widths searched (the CPU search's: only 0.25, ``tuning.fidelity``);
    ``defaults``: values that replace ``EFFICIENT_DEFAULTS`` (``efficient_values``);
    ``models``: the networks searched (the CPU search's: no VGG19)."""
    d = {**EFFICIENT_DEFAULTS, **(defaults or {})}
    if d["width"] not in widths:
        d["width"] = float(widths[0])
    if d["model"] not in models:
        d["model"] = models[0]
    model = hp.Choice("model", list(models), default=d["model"])
    with hp.conditional_scope("model", [m for m in ("vgg13", "vgg19") if m in models]):
        width = hp.Choice("width", [float(w) for w in widths], default=float(d["width"]))
    optimizer = hp.Choice("optimizer", ["sgd", "adam"], default=d["optimizer"])
    # each optimizer has its own range of good rates, so each has its own hyperparameter
    with hp.conditional_scope("optimizer", ["sgd"]):
        sgd_lr = hp.Float("sgd_learning_rate", 0.01, 0.1, sampling="log",
                          default=d["sgd_learning_rate"])
    with hp.conditional_scope("optimizer", ["adam"]):
        adam_lr = hp.Float("adam_learning_rate", 1e-4, 3e-3, sampling="log",
                           default=d["adam_learning_rate"])
    return {
        "model": model, "width": width, "optimizer": optimizer,
        "sgd_learning_rate": sgd_lr, "adam_learning_rate": adam_lr,
        "schedule": hp.Choice("schedule", list(SCHEDULES), default=d["schedule"]),
        "label_smoothing": hp.Choice("label_smoothing", list(LABEL_SMOOTHING),
                                     default=d["label_smoothing"]),
        "l2": hp.Float("l2", 1e-5, 1e-3, sampling="log", default=d["l2"]),
        "erasing": hp.Choice("erasing", list(ERASING), default=d["erasing"]),
        "mix": hp.Choice("mix", list(MIX), default=d["mix"]),
        "ema": hp.Boolean("ema", default=d["ema"]),
    }


def efficient_values(cfg: TrainConfig) -> dict:
    """The point of the efficient space that ``cfg`` is, as ``declare_efficient``'s
    ``defaults``: what ``config_from_efficient(cfg, values)`` gives back as ``cfg`` (tested on
    recipes/cpu.json). Settings outside the space's ranges are left out (the space keeps its
    own default for them)."""
    values = {"model": cfg.model, "optimizer": cfg.optimizer.get("name"), "ema": cfg.ema is not None,
              "schedule": cfg.schedule["name"], "label_smoothing": cfg.loss.get("label_smoothing", 0.0),
              "l2": cfg.loss.get("l2", 0.0), "erasing": cfg.augment.get("erasing", 0.0),
              "mix": cfg.augment.get("mix") or "none"}
    if cfg.model in ("vgg13", "vgg19"):
        values["width"] = cfg.model_args.get("width")
    rate = cfg.optimizer.get("learning_rate")
    values[f"{values['optimizer']}_learning_rate"] = rate
    ranges = {"model": EFFICIENT_MODELS, "optimizer": ("sgd", "adam"), "schedule": SCHEDULES,
              "label_smoothing": LABEL_SMOOTHING, "erasing": ERASING, "mix": MIX,
              "width": VGG_WIDTHS}
    spans = {"sgd_learning_rate": (0.01, 0.1), "adam_learning_rate": (1e-4, 3e-3), "l2": (1e-5, 1e-3)}
    return {k: v for k, v in values.items()
            if (k not in ranges or v in ranges[k])
            and (k not in spans or (isinstance(v, (int, float)) and spans[k][0] <= v <= spans[k][1]))}


def schedule_for(name: str, epochs: int, warmup=5) -> dict:
    """cosine: warm-up over a tenth of the epochs, at most ``warmup`` (the base config's; the
    recipe's 5 at 150 epochs); step: the rate / 10 after each third of the epochs."""
    if name == "cosine":
        return {"name": "cosine", "warmup_epochs": min(warmup, epochs // 10)}
    return {"name": "step", "every": max(1, epochs // 3), "factor": 0.1}


def ema_momentum(epochs: int, steps_per_epoch, top=EMA_MOMENTUM) -> float:
    """``top`` (the recipe's 0.999, or the base config's), shortened on short runs to average
    over at most the last quarter of the training steps (1 / (1 - m) steps): Keras' EMA is not
    bias-corrected, so a trial of 2 x 40 steps would otherwise validate weights that are still
    mostly the first step's."""
    steps = epochs * (steps_per_epoch or 0)
    return top if not steps else min(top, max(0.5, 1.0 - 4.0 / steps))


def config_from_efficient(base: TrainConfig, values: dict, steps_per_epoch=None) -> TrainConfig:
    """The TrainConfig of one point of the efficient space (values as ``declare_efficient``
    returns them) on top of ``base`` (its loss and augmentation are extended, not replaced)."""
    model = str(values["model"])
    if model == "mini_xception":
        model_args = {"input_shape": [CROP, CROP, 1]}
    else:
        model_args = {"width": float(values["width"])}
    if values["optimizer"] == "sgd":
        optimizer = {"name": "sgd", "learning_rate": float(values["sgd_learning_rate"]),
                     "momentum": 0.9, "nesterov": True}
    else:
        optimizer = {"name": "adam", "learning_rate": float(values["adam_learning_rate"])}
    loss = {**base.loss, "label_smoothing": float(values["label_smoothing"]), "l2": float(values["l2"])}
    # no erasing, no mix: no key, so that the space's point of a recipe is that recipe
    augment = {k: v for k, v in base.augment.items() if k not in ("erasing", "mix")}
    if float(values["erasing"]):
        augment["erasing"] = float(values["erasing"])
    if values["mix"] != "none":
        augment["mix"] = str(values["mix"])
    # the base's EMA and warm-up where it has them (recipes/cpu.json: 0.998, 2 epochs)
    ema = ema_momentum(base.epochs, steps_per_epoch, base.ema or EMA_MOMENTUM) if values["ema"] else None
    warmup = base.schedule.settings().get("warmup_epochs", 5) if base.schedule["name"] == "cosine" else 5
    return base.replace(model=model, model_args=model_args, optimizer=optimizer, loss=loss,
                        augment=augment, ema=ema,
                        schedule=schedule_for(str(values["schedule"]), base.epochs, warmup))


@dataclass(frozen=True)
class Space:
    """One search space: what it tunes and the settings its trials share.

    Args:
        name: the ``--space`` name.
        declare: ``declare(hp) -> {name: value}``, every hyperparameter with a default.
        apply: ``apply(base, values, steps_per_epoch) -> TrainConfig``.
        fixed: TrainConfig settings of every trial, under the ``--config`` base.
        summary: one line for ``--help`` and the search's first lines.
        cpu_recipe: the recipe (``keras_fer.resources.recipe``) a CPU search starts from when
            no ``--config`` is given, its defaults centred on it (``tuning.fidelity``): the
            efficient space's is ``make train``'s, "cpu". None: the space's own base.
        centre: ``centre(cfg) -> values``, the point of the space a TrainConfig is (``declare``'s
            ``defaults``): a CPU search's defaults are its base config. None: fixed defaults.

    Example:
        >>> space = SPACES["efficient"]
        >>> hp = keras_tuner.HyperParameters()
        >>> cfg = space.apply(space.base(), space.declare(hp), 225)  # the defaults: the recipe
    """

    name: str
    declare: Callable
    apply: Callable
    fixed: dict
    summary: str
    cpu_recipe: str | None = None
    centre: Callable | None = None

    def base(self, overrides: dict | None = None, source: str = "config") -> TrainConfig:
        """TrainConfig defaults <- ``fixed`` <- ``overrides`` (a ``--config`` file's dict)."""
        return TrainConfig.from_dict({**self.fixed, **(overrides or {})}, source=source)

    def narrowed(self, **choices) -> "Space":
        """This space with ``declare``'s keyword arguments set, e.g. ``widths=(0.25,)``: a
        hyperparameter narrowed where it is declared (a ``Fixed`` one beside a conditional
        declaration would give KerasTuner two values of one name)."""
        import functools

        return dataclasses.replace(self, declare=functools.partial(self.declare, **choices))

    def hyperparameters(self):
        """Every hyperparameter of the space (conditional ones too), as KerasTuner objects."""
        import keras_tuner as kt

        hp = kt.HyperParameters()
        self.declare(hp)
        return list(hp.space)


SPACES = {
    "blockcnn": Space("blockcnn", declare, config_from_values, {},
                      "block CNNs of the FER2013 ablation (depth 4-8, widths 16-64)"),
    "efficient": Space("efficient", declare_efficient, config_from_efficient, EFFICIENT_FIXED,
                       "vgg13/vgg19 (width 0.25-0.75), mini_xception + EMA, mixup/cutmix, label "
                       "smoothing, schedule (centred on recipes/cpu_long.json; without a GPU "
                       "on make train's recipes/cpu.json)", cpu_recipe="cpu",
                       centre=efficient_values),
}


def get_space(name) -> Space:
    """The space called ``name`` (a Space is returned as is)."""
    if isinstance(name, Space):
        return name
    if name not in SPACES:
        raise UserError(f"--space: unknown space {name!r} (known: {', '.join(SPACES)})")
    return SPACES[name]


def steps_per_epoch(images: int, batch_size: int) -> int:
    return max(1, math.ceil(images / batch_size))
