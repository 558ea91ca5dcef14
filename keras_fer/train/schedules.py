"""Learning-rate schedules from a config dict (``TrainConfig.schedule``).

=====================  ======================================================================
``constant``           the optimizer's rate throughout
``step``               ``every`` (20) epochs multiply by ``factor`` (0.1): ÷10 every 20;
                       ``{"every": 5, "factor": 0.2}``: ÷5 every 5
``exponential``        from epoch ``start`` (80) on, multiply by ``factor`` (0.9) every ``every``
                       (5) epochs (the first cut at epoch ``start``)
``reduce_on_plateau``  multiply by ``factor`` (0.1) after ``patience`` (10) epochs without
                       improvement of ``monitor`` (default: the run's monitor); ``min_lr``
``f1_drop``            multiply by ``factor`` (0.8) when ``monitor`` (val_macro_f1) fell by more
                       than ``drop`` (0.1, relative) since the previous epoch
``cosine``             per step: linear warm-up over ``warmup_epochs`` (5) from 0 to the rate,
                       then cosine decay to ``alpha`` (0) x rate at the last epoch
=====================  ======================================================================

Epochs count from 0. constant, step, exponential and cosine are the optimizer's rate as a
function of its step counter (a Keras ``LearningRateSchedule``), so a resumed run, whose
optimizer state includes the counter, continues at the right rate by itself. The two driven by
validation metrics are a callback (``MetricSchedule``) that keeps its state in ``get_state()``.
"""
from __future__ import annotations

import math

import keras

from keras_fer.config_parts import SCHEDULES
from keras_fer.errors import UserError

DEFAULTS = SCHEDULES  # each schedule's settings and defaults (declared with the typed config)


def parse_schedule(spec: dict) -> tuple:
    """(name, settings with defaults filled in); UserError for an unknown name or key."""
    spec = dict(spec)
    name = str(spec.pop("name", ""))
    if name not in DEFAULTS:
        raise UserError(f"schedule: unknown name {name!r} (known: {', '.join(DEFAULTS)})")
    for key in spec:
        if key not in DEFAULTS[name]:
            raise UserError(f"schedule {name}: unknown setting {key!r} "
                            f"(known: {', '.join(DEFAULTS[name]) or 'none'})")
    return name, {**DEFAULTS[name], **spec}


def lr_at_epoch(name: str, settings: dict, base_lr: float, epoch: int) -> float:
    """The rate of the epoch-indexed schedules (constant, step, exponential) at ``epoch``."""
    if name == "step":
        return base_lr * settings["factor"] ** (epoch // settings["every"])
    if name == "exponential":
        cuts = 0 if epoch < settings["start"] else (epoch - settings["start"]) // settings["every"] + 1
        return base_lr * settings["factor"] ** cuts
    return base_lr


def make_schedule(spec: dict, base_lr: float, epochs: int, steps_per_epoch: int, monitor: str):
    """``(learning_rate, callback)``: the optimizer's ``learning_rate`` (a float or a Keras
    schedule of the step) and a ``MetricSchedule`` callback for reduce_on_plateau and f1_drop
    (None for the others)."""
    name, settings = parse_schedule(spec)
    if name == "cosine":
        warmup = int(settings["warmup_epochs"] * steps_per_epoch)
        decay = max(1, epochs * steps_per_epoch - warmup)
        if warmup > 0:
            lr = keras.optimizers.schedules.CosineDecay(
                0.0, decay, alpha=settings["alpha"], warmup_target=base_lr, warmup_steps=warmup)
        else:
            lr = keras.optimizers.schedules.CosineDecay(base_lr, decay, alpha=settings["alpha"])
        return lr, None
    if name in ("reduce_on_plateau", "f1_drop"):
        if settings["monitor"] is None:
            settings["monitor"] = monitor
        return base_lr, MetricSchedule(name, settings)
    return epoch_rates(name, settings, base_lr, epochs, steps_per_epoch), None


def epoch_rates(name, settings, base_lr, epochs, steps_per_epoch):
    """The rates ``lr_at_epoch`` gives epochs 0..epochs-1 as a function of the step: a float
    when they never change, else a ``PiecewiseConstantDecay`` whose pieces are those epochs'
    steps (epoch e = steps e * steps_per_epoch ... (e + 1) * steps_per_epoch - 1)."""
    rates = [lr_at_epoch(name, settings, base_lr, e) for e in range(max(1, epochs))]
    cuts = [e for e in range(1, len(rates)) if rates[e] != rates[e - 1]]
    if not cuts:
        return rates[0]
    # PiecewiseConstantDecay takes values[i] while step <= boundaries[i]
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [e * steps_per_epoch - 1 for e in cuts], [rates[0]] + [rates[e] for e in cuts])


def is_better(value, best, monitor) -> bool:
    """``value`` improves on ``best`` for ``monitor`` (lower for losses, higher otherwise)."""
    return value < best if monitor.endswith("loss") else value > best


def current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(lr))


class MetricSchedule(keras.callbacks.Callback):
    """Cuts the optimizer's rate from the validation logs (reduce_on_plateau, f1_drop).
    Resumable: ``get_state`` / ``set_state``.

    Args:
        name: "reduce_on_plateau" or "f1_drop".
        settings: that schedule's settings, defaults filled in (``parse_schedule``), with a
            ``monitor``.

    Example:
        >>> _, cb = make_schedule({"name": "reduce_on_plateau"}, 0.01, 50, 100, "val_loss")
        >>> model.fit(x, y, validation_data=(vx, vy), callbacks=[cb])
    """

    def __init__(self, name, settings):
        super().__init__()
        self.name, self.settings = name, settings
        self.best = None  # reduce_on_plateau: best monitored value; f1_drop: previous value
        self.wait = 0

    def _set(self, value):
        self.model.optimizer.learning_rate = float(value)

    def on_epoch_end(self, epoch, logs=None):
        monitor = self.settings["monitor"]
        if monitor not in (logs or {}):
            return
        value = float(logs[monitor])
        if not math.isfinite(value):
            return
        lr = current_lr(self.model.optimizer)
        if self.name == "f1_drop":
            if (self.best is not None and self.best > 0
                    and (self.best - value) / self.best > self.settings["drop"]):
                self._set(lr * self.settings["factor"])
            self.best = value
            return
        if self.best is None or is_better(value, self.best, monitor):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.settings["patience"]:
            self._set(max(lr * self.settings["factor"], self.settings["min_lr"]))
            self.wait = 0

    def get_state(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def set_state(self, state: dict) -> None:
        self.best, self.wait = state.get("best"), int(state.get("wait", 0))
