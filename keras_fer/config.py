"""The one run configuration: a typed dataclass read from and written to JSON.

The same JSON form serves ``python -m keras_fer.train --config``, ``python -m tuning`` (as the
base of the search) and ``python -m keras_fer.experiments`` (as the base that each run overrides).
A resolved copy is written into every run directory as ``config.json``.

Example ``run.json``::

    {"model": "vgg19", "epochs": 250, "batch_size": 128,
     "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": true,
                   "weight_decay": 5e-4},
     "schedule": {"name": "reduce_on_plateau", "factor": 0.1, "patience": 10},
     "augment": {"flip": true, "crop": 44, "affine": {"rotation": 10}},
     "val": "PublicTest", "monitor": "val_accuracy"}
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field

# EPOCH_METRICS (what every epoch logs) and MONITORS (what a run may monitor) live beside the
# schedule that checks them; keras_fer.config re-exports them
from keras_fer.config_parts import (  # noqa: F401
    DISTILL_DEFAULTS,
    EPOCH_METRICS,
    MONITORS,
    PARTS,
    AugmentConfig,
    DistillConfig,
    LossConfig,
    OptimizerConfig,
    ScheduleConfig,
)
from keras_fer.errors import UserError

VAL_CHOICES = ("PublicTest", "split")  # "split": a stratified val_fraction of Training
# init_from: every weight, the layers shared by name, or every layer mapped by channel (a run of
# the same chain at another width: keras_fer.train.channels)
INIT_LAYERS = ("all", "matching", "channels")
# test-time augmentation of evaluate/release (keras_fer.augment.tta_views): here, not beside the
# views, so that the CLIs' parsers list them without importing Keras
TTA_MODES = ("none", "flip", "tencrop")
# settings that may change between an interrupted run and its resumption (weights and
# optimizer state do not depend on the devices: a run cut on 8 GPUs may go on on 4)
RESUME_FREE = ("epochs", "out", "verbose", "tensorboard", "early_stopping", "devices")


def resume_settings(settings: dict) -> dict:
    """The settings a resumed run must share with the interrupted one: all but RESUME_FREE and
    those at their default, so that a setting added to TrainConfig later (at its default)
    does not orphan the runs started before it."""
    defaults = TrainConfig().to_dict()
    return {k: v for k, v in settings.items()
            if k not in RESUME_FREE and not (k in defaults and v == defaults[k])}


@dataclass
class TrainConfig:
    # --- what to train ---
    model: str = "baseline"  # a registry name (keras_fer.models) or a path to a JSON model file
    model_args: dict = field(default_factory=dict)  # overrides passed to the model builder
    # --- data ---
    data: str | None = None  # file/folder/zip/CSV; None: the default location (data/)
    # what numbered class folders (or a CSV's emotion column) mean: a preset (fer2013, raf-db,
    # ck+, affectnet, fer+) or "1=surprise,2=fear,..."; None: named folders, FER2013's CSV coding
    classes: str | None = None
    limit: int | None = None  # a stratified subset of Training of this many images (smoke tests)
    val: str = "PublicTest"  # "PublicTest", or "split" (stratified val_fraction of Training)
    val_fraction: float = 0.2
    drop_classes: list = field(default_factory=list)  # emotion names left out, the rest re-indexed
    oversample: dict = field(default_factory=dict)  # {"class": "disgust", "factor": 4}
    balanced_sampler: bool = False
    folds: int | None = None  # k-fold cross-validation on Training (val becomes each held-out fold)
    # --- optimisation ---
    epochs: int = 30
    batch_size: int = 128
    # the nested parts are typed (keras_fer.config_parts), read from and written as JSON objects
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig.read(
        {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9}, "optimizer"))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig.read(
        {"name": "constant"}, "schedule"))
    # {"name": ...} plus, optionally, class_weights, label_smoothing, l2
    loss: LossConfig = field(default_factory=lambda: LossConfig.read(
        {"name": "crossentropy"}, "loss"))
    # keras_fer.augment config; {} = no augmentation
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig.read({}, "augment"))
    mixed_precision: bool = False
    # data-parallel over this many local devices, or "all" (keras_fer.distribute); batch_size
    # stays the global batch, split across them
    devices: int | str = 1
    # EMA of the weights (Polyak averaging), e.g. 0.999: validation, the best checkpoint and the
    # saved model use the averaged weights; None: off
    ema: float | None = None
    # knowledge distillation from one of our own runs or ensembles (a run directory):
    # {"teacher": RUN_DIR, "alpha": 0.5, "temperature": 4.0}; {}: off
    distill: DistillConfig = field(default_factory=lambda: DistillConfig.read({}, "distill"))
    # fine-tuning: start from the weights of this run directory of ours (same model, model_args
    # and classes) instead of a random initialisation; None: from scratch
    init_from: str | None = None
    # which of init_from's weights: "all" (the same model), or "matching": each layer whose name
    # and weight shapes this model shares (a smaller student started from a larger run's first
    # stages); the others keep their random initialisation; or "channels": the same chain of
    # layers at another width, narrower (the channels of largest |gamma| kept) or wider
    # (channels copied, the function kept)
    init_layers: str = "all"
    # --- selection and stopping (validation split only: never PrivateTest) ---
    monitor: str = "val_accuracy"  # val_accuracy | val_macro_f1 | val_average_accuracy | val_loss
    early_stopping: int | None = None  # patience in epochs
    # wall-clock budget of the training, e.g. "14m" or "2h50m", kept by keras_fer.budget (the
    # training CLI, the experiments, the search's retraining), not by keras_fer.train.run;
    # None: `epochs` epochs
    time_budget: str | None = None
    # --- bookkeeping ---
    seed: int = 0
    out: str | None = None  # run directory; None: runs/<model>-<timestamp>
    tensorboard: bool = True
    verbose: int = 1

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "TrainConfig":
        """Build from a JSON dict; an unknown key or a wrong type is a UserError naming it."""
        if not isinstance(d, dict):
            raise UserError(f"{source}: expected a JSON object, got {type(d).__name__}")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise UserError(f"{source}: unknown setting {unknown[0]!r} (known: {', '.join(names)})")
        hints = typing.get_type_hints(cls)
        _check_finite(source, d)  # first: "optimizer.momentum must be a finite number"
        d = dict(d)
        for key, value in d.items():
            if key in PARTS:  # read once, here: a bad nested key fails before any model is built
                d[key] = PARTS[key].read(value, f"{source}: {key}")
            else:
                _check_type(source, key, value, hints[key])
        cfg = cls(**d)
        cfg.validate(source)
        return cfg

    def __post_init__(self):
        for key, part in PARTS.items():  # TrainConfig(optimizer={...}) as well as from_dict
            setattr(self, key, part.read(getattr(self, key), key))

    def to_dict(self) -> dict:
        """The JSON form (the nested parts as the objects they were read from)."""
        import copy

        return {f.name: (getattr(self, f.name).to_dict() if f.name in PARTS
                         else copy.deepcopy(getattr(self, f.name)))
                for f in dataclasses.fields(self)}

    def replace(self, **overrides) -> "TrainConfig":
        """A copy with ``overrides`` applied (checked like ``from_dict``)."""
        d = self.to_dict()
        d.update(overrides)
        return TrainConfig.from_dict(d, source="overrides")

    def validate(self, source: str = "config") -> None:
        _check_finite(source, self.to_dict())
        if self.val not in VAL_CHOICES:
            raise UserError(f"{source}: val must be one of {VAL_CHOICES}, got {self.val!r} "
                            "(PrivateTest is never used to choose anything)")
        if not 0.0 < self.val_fraction < 1.0:
            raise UserError(f"{source}: val_fraction must be in (0, 1), got {self.val_fraction}")
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise UserError(f"{source}: {key} must be >= 1, got {getattr(self, key)}")
        if self.limit is not None and self.limit < 7:
            raise UserError(f"{source}: limit must be >= 7 (one image per class), got {self.limit}")
        if self.folds is not None and self.folds < 2:
            raise UserError(f"{source}: folds must be >= 2, got {self.folds}")
        # checked here, not after a whole epoch has trained
        if self.monitor not in MONITORS:
            raise UserError(f"{source}: monitor must be a validation metric, one of "
                            f"{', '.join(MONITORS)}, got {self.monitor!r}")
        from keras_fer.data.classes import parse_classes
        from keras_fer.distribute import check_setting
        from keras_fer.models.registry import check_model_args

        check_setting(self.devices, source)
        check_model_args(self.model_args, f"{source}: model_args")

        parse_classes(self.classes, f"{source}: classes")
        if self.init_layers not in INIT_LAYERS:
            raise UserError(f"{source}: init_layers must be one of {', '.join(INIT_LAYERS)}, "
                            f"got {self.init_layers!r}")
        if self.init_layers != "all" and not self.init_from:
            raise UserError(f"{source}: init_layers {self.init_layers} takes layers from "
                            "init_from, which is not set (--init-from RUN)")
        if self.ema is not None and not 0.0 < self.ema < 1.0:
            raise UserError(f"{source}: ema must be in (0, 1) (e.g. 0.999) or null, got {self.ema!r}")
        if self.time_budget is not None:
            from keras_fer.durations import parse_duration

            if parse_duration(self.time_budget, f"{source}: time_budget") is None:
                self.time_budget = None  # "none" (--time-budget none: a recipe's lifted)

    def distill_settings(self) -> tuple:
        """``(teacher, alpha, temperature)`` with the defaults filled in."""
        d = self.distill
        return d.teacher, float(d.alpha), float(d.temperature)


__all__ = ["TrainConfig", "load_config", "resume_settings", "DISTILL_DEFAULTS"]


def _check_finite(source, value, key="") -> None:
    """UserError naming the first NaN or infinite number, nested settings included (a learning
    rate of inf trains a model of NaNs)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(source, v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(source, v, f"{key}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{source}: {key} must be a finite number, got {value}")


def _check_type(source, key, value, hint):
    origin = typing.get_origin(hint)
    unions = (typing.Union, types.UnionType)
    allowed = typing.get_args(hint) if origin in unions else (hint,)
    py_types = []
    for a in allowed:
        if a is type(None):
            py_types.append(type(None))
        else:
            py_types.append(typing.get_origin(a) or a)
    if float in py_types:
        py_types.append(int)  # JSON writes 1.0 as 1
    if bool not in py_types and isinstance(value, bool) and int in py_types:
        raise UserError(f"{source}: {key} must be a number, got {value!r}")
    if not isinstance(value, tuple(py_types)):
        names = " or ".join("null" if t is type(None) else t.__name__ for t in py_types)
        raise UserError(f"{source}: {key} must be {names}, got {value!r}")


def load_config(path) -> TrainConfig:
    from keras_fer.io_utils import read_json

    return TrainConfig.from_dict(read_json(path), source=str(path))
