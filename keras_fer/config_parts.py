"""The nested parts of a ``TrainConfig`` (``optimizer``, ``schedule``, ``loss``, ``augment``,
``distill``): typed dataclasses, checked once when the config is read, so that a bad key or
value is a one-line UserError naming it before any model is built.

Each part reads like the JSON object it came from (``part["name"]``, ``part.get("momentum")``,
``dict(part)``, ``{**part}``: the keys that were given, so a recipe is written back unchanged)
and has typed attributes with the defaults filled in (``cfg.optimizer.learning_rate``). No Keras
here: the CLIs read a config before importing it. Where Keras has the object the keys are Keras'
own: an optimizer's keys are its Keras class's arguments (``OPTIMIZER_ARGS``, pinned to the
signatures by tests/test_config_parts.py), and ``keras_fer.train.build_optimizer`` passes them on.

Example:
    >>> opt = OptimizerConfig.read({"name": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    >>> opt.learning_rate, opt["momentum"], dict(opt)
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from keras_fer.errors import UserError

EPOCH_METRICS = ("loss", "accuracy", "macro_f1", "average_accuracy")  # what every epoch logs
MONITORS = tuple(f"val_{m}" for m in EPOCH_METRICS)

_COMMON = ("learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
           "gradient_accumulation_steps", "loss_scale_factor", "use_ema", "ema_momentum",
           "ema_overwrite_frequency")
# the arguments of each Keras optimizer class (keras.optimizers.SGD, ...), but its name
OPTIMIZER_ARGS = {
    "sgd": _COMMON + ("momentum", "nesterov"),
    "adam": _COMMON + ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "adamw": _COMMON + ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "rmsprop": _COMMON + ("rho", "momentum", "epsilon", "centered"),
    "adamax": _COMMON + ("beta_1", "beta_2", "epsilon"),
    "adagrad": _COMMON + ("initial_accumulator_value", "epsilon"),
}
# the settings of each learning-rate schedule (keras_fer.train.schedules) and their defaults
SCHEDULES = {
    "constant": {},
    "step": {"every": 20, "factor": 0.1},
    "exponential": {"start": 80, "every": 5, "factor": 0.9},
    "reduce_on_plateau": {"factor": 0.1, "patience": 10, "min_lr": 0.0, "monitor": None},
    "f1_drop": {"factor": 0.8, "drop": 0.1, "monitor": "val_macro_f1"},
    "cosine": {"warmup_epochs": 5, "alpha": 0.0},
}
LOSSES = ("crossentropy", "class_weighted")
# keras_fer.augment.Augment's settings (tests/test_config_parts.py pins them to its config_keys)
AUGMENT_KEYS = ("flip", "crop", "pad", "rotation", "translate", "scale", "brightness", "contrast",
                "sharpness", "five_crop", "erasing", "alternate", "fill_mode", "mix", "mix_alpha",
                "seed")
AFFINE_KEYS = ("rotation", "translate", "scale")


def _number(source, key, value, low=None, high=None, low_open=False, high_open=False):
    """UserError unless ``value`` is a finite number in the range (closed unless ``*_open``)."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value)
          and (low is None or (value > low if low_open else value >= low))
          and (high is None or (value < high if high_open else value <= high)))
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}, "
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        where = f" in {lo}{hi}" if lo and hi else (f" >{'' if low_open else '='} {low}" if lo else "")
        raise UserError(f"{source}: {key} must be a number{where}, got {value!r}")


class Part(Mapping):
    """A nested part: a dataclass that reads like the JSON object of its given keys."""

    _given: tuple = ()  # the keys the JSON object gave (set by ``read``)

    def __getitem__(self, key):
        if key not in self._given:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self._given)

    def __len__(self):
        return len(self._given)

    def __eq__(self, other):
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __hash__(self):
        return hash(tuple(sorted(self._given)))

    def __repr__(self):
        return f"{type(self).__name__}({dict(self.items())!r})"

    def to_dict(self) -> dict:
        import copy

        return copy.deepcopy(dict(self.items()))

    KIND = "setting"  # what an unknown key is called in the error

    @classmethod
    def read(cls, value, source):
        """The part of ``value`` (a JSON object or a part); UserError naming a bad key or value."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise UserError(f"{source}: expected a JSON object, got {value!r}")
        value = dict(value)
        known = cls.known(value, source)
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise UserError(f"{cls.where(value, source)}: unknown {cls.KIND} {unknown[0]!r} "
                            f"(known: {', '.join(known) or 'none'})")
        part = cls.build(value)
        object.__setattr__(part, "_given", tuple(value))
        part.check(source)
        return part

    @classmethod
    def known(cls, value, source) -> tuple:
        """The keys ``value`` may have."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def where(cls, value, source) -> str:
        """What an error about ``value`` names."""
        return source

    @classmethod
    def build(cls, value):
        """The part of ``value``, whose keys are known."""
        return cls(**value)

    def check(self, source) -> None:
        """Check the values (the keys were checked by ``read``)."""


def _named(value, source, names, what="name"):
    name = value.get("name")
    if name is None:
        raise UserError(f"{source} needs a \"name\" (one of {', '.join(names)})")
    if name not in names:
        raise UserError(f"{source}: unknown {what} {name!r} (known: {', '.join(names)})")
    return name


@dataclass(frozen=True, eq=False, repr=False)
class OptimizerConfig(Part):
    """``{"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": true}``: a Keras
    optimizer (``OPTIMIZER_ARGS``) and its arguments; ``lr`` is read as ``learning_rate``."""

    name: str = "sgd"
    learning_rate: float = 0.01
    lr: float | None = None
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float | None = None
    settings: dict = field(default_factory=dict)  # the other Keras arguments given

    @classmethod
    def known(cls, value, source) -> tuple:
        name = _named(value, source, tuple(OPTIMIZER_ARGS))
        return tuple(sorted(("name", "lr") + OPTIMIZER_ARGS[name]))

    @classmethod
    def where(cls, value, source) -> str:
        return f"{source} {value['name']}"

    @classmethod
    def build(cls, value):
        typed = {f.name for f in dataclasses.fields(cls)} - {"settings"}
        part = cls(**{k: v for k, v in value.items() if k in typed},
                   settings={k: v for k, v in value.items() if k not in typed})
        if "lr" in value and "learning_rate" not in value:
            object.__setattr__(part, "learning_rate", value["lr"])
        return part

    def __getitem__(self, key):
        if key in self.settings:
            return self.settings[key]
        return super().__getitem__(key)

    def check(self, source):
        _number(source, "learning_rate", self.learning_rate, 0, low_open=True)
        for key, value in self.items():
            if key in ("name", "nesterov", "amsgrad", "centered", "use_ema"):
                if key != "name" and not isinstance(value, bool):
                    raise UserError(f"{source}: {key} must be true or false, got {value!r}")
            elif value is not None:
                _number(source, key, value, 0)


@dataclass(frozen=True, eq=False, repr=False)
class ScheduleConfig(Part):
    """``{"name": "cosine", "warmup_epochs": 2}``: a schedule of ``SCHEDULES`` and its settings."""

    name: str = "constant"
    every: int = 20
    factor: float = 0.1
    start: int = 80
    patience: int = 10
    min_lr: float = 0.0
    monitor: str | None = None
    drop: float = 0.1
    warmup_epochs: float = 5
    alpha: float = 0.0

    @classmethod
    def known(cls, value, source):
        name = _named(value, source, tuple(SCHEDULES))
        return ("name",) + tuple(SCHEDULES[name])

    def settings(self) -> dict:
        """The schedule's settings, its defaults filled in."""
        return {**SCHEDULES[self.name], **{k: v for k, v in self.items() if k != "name"}}

    def check(self, source):
        for key, value in self.items():
            if key == "name":
                continue
            if key == "monitor":
                if value is not None and value not in MONITORS:
                    raise UserError(f"{source}: monitor must be a validation metric, one of "
                                    f"{', '.join(MONITORS)}, got {value!r}")
            elif key in ("every", "patience"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise UserError(f"{source}: {key} must be an integer >= 1, got {value!r}")
            elif key == "factor":
                _number(source, key, value, 0, low_open=True)
            else:
                _number(source, key, value, 0)


@dataclass(frozen=True, eq=False, repr=False)
class LossConfig(Part):
    """``{"name": "crossentropy", "label_smoothing": 0.1, "l2": 5e-4}``; ``class_weighted``
    weighs the classes by inverse frequency (or ``class_weights``, one number a class)."""

    name: str = "crossentropy"
    label_smoothing: float = 0.0
    class_weights: list | None = None
    l2: float = 0.0

    @classmethod
    def known(cls, value, source):
        _named(value, source, LOSSES)
        return super().known(value, source)

    def check(self, source):
        _number(source, "label_smoothing", self.label_smoothing, 0, 1, high_open=True)
        _number(source, "l2", self.l2, 0)
        if self.class_weights is not None:
            if not isinstance(self.class_weights, list):
                raise UserError(f"{source}: class_weights must be a list of numbers, got "
                                f"{self.class_weights!r}")
            for i, w in enumerate(self.class_weights):
                _number(source, f"class_weights[{i}]", w, 0)


@dataclass(frozen=True, eq=False, repr=False)
class AugmentConfig(Part):
    """keras_fer.augment's settings (``AUGMENT_KEYS``, ``affine`` grouping rotation, translate
    and scale); ``{}``: no augmentation. Their values are ``keras_fer.augment.Augment``'s to
    check (it is built from them, ``Augment.from_config_dict``)."""

    settings: dict = field(default_factory=dict)
    KIND = "augmentation"

    @classmethod
    def known(cls, value, source) -> tuple:
        affine = value.get("affine", {}) or {}
        if not isinstance(affine, dict) or set(affine) - set(AFFINE_KEYS):
            raise UserError(f"{source}: affine must be an object with rotation, translate, "
                            f"scale; got {affine!r}")
        return AUGMENT_KEYS + ("affine",)

    @classmethod
    def build(cls, value):
        return cls(settings=value)

    def __getitem__(self, key):
        return self.settings[key]


DISTILL_DEFAULTS = {"teacher": None, "alpha": 0.5, "temperature": 4.0}


@dataclass(frozen=True, eq=False, repr=False)
class DistillConfig(Part):
    """``{"teacher": RUN_DIR, "alpha": 0.5, "temperature": 4.0}``: knowledge distillation
    (alpha weighs the teacher's T^2 KL at temperature T against the labels' cross-entropy);
    ``{}``: off."""

    teacher: str | None = None
    alpha: float = 0.5
    temperature: float = 4.0

    def check(self, source):
        if not self._given:
            return
        if not isinstance(self.teacher, str):
            raise UserError(f"{source} needs \"teacher\" (a run directory) and takes "
                            f"{', '.join(DISTILL_DEFAULTS)}; got {sorted(self._given)}")
        _number(source, "alpha", self.alpha, 0, 1, low_open=True)
        _number(source, "temperature", self.temperature, 0, low_open=True)


PARTS = {"optimizer": OptimizerConfig, "schedule": ScheduleConfig, "loss": LossConfig,
         "augment": AugmentConfig, "distill": DistillConfig}
