"""The time budget of a search (``--time-budget 45m``) and its estimates, from measured steps/s.

The budget runs from the command's start. With retraining, its end belongs to the retraining of
the best (``retrain_seconds``: ``make train``'s budget, recipes/cpu.json's 14 minutes, at most
``RETRAIN_SHARE`` of the whole) and its evaluation (``EVAL_RESERVE_S``), so the search phase ends
that much earlier: no trial starts unless its estimate fits in what is left of the search phase,
and a running trial is cut (``Deadline``) when the phase ends. Estimates come from the trials
measured so far in the project (``timing.json`` of each trial: steps/s, validation and setup
seconds); before the first, from a few steps of the space's default configuration
(``calibrate``).
"""
from __future__ import annotations

import math
import time

import keras
import keras_tuner

from keras_fer.train.callbacks import hms  # noqa: F401  (tuning.plan imports it from here)

RETRAIN_SHARE = 1 / 3
EVAL_OVERHEAD_S = 10.0  # loading the retrained model and writing the reports
# the retraining's setup (data, model, tracing: outside its training budget) and evaluation
EVAL_RESERVE_S = 90.0
FORWARD_SHARE = 1 / 3  # a validation step costs about a third of a training step (no backward)
clock = time.monotonic  # the search's clock (tests move it)


class BudgetSpent(keras_tuner.errors.FatalError):
    """The search phase's time is up: no new trial, or the running one was cut (a KerasTuner
    FatalError, so that ``search`` ends instead of marking the trial failed)."""


def make_train_budget() -> float:
    """Seconds of ``make train``'s budget without a GPU (recipes/cpu.json's ``time_budget``)."""
    from keras_fer.config import load_config
    from keras_fer.durations import parse_duration
    from keras_fer.resources import recipe

    return parse_duration(load_config(recipe("cpu")).time_budget)


def retrain_seconds(seconds) -> float | None:
    """The retraining's training budget within a search budget of ``seconds``: ``make train``'s,
    at most ``RETRAIN_SHARE`` of it; None without a budget."""
    if seconds is None:
        return None
    return float(min(make_train_budget(), seconds * RETRAIN_SHARE))


class Budget:
    """The deadlines of one command: ``end`` (``seconds`` from ``start``) and ``search_end``
    (``retrain_s`` + ``EVAL_RESERVE_S`` earlier when the best is retrained, see
    ``retrain_seconds``); both None without a budget."""

    def __init__(self, seconds=None, retrain=True, start=None):
        self.seconds = seconds
        self.start = clock() if start is None else start
        self.end = None if seconds is None else self.start + seconds
        self.retrain_s = retrain_seconds(seconds) if retrain else None
        reserve = 0.0 if self.retrain_s is None else self.retrain_s + EVAL_RESERVE_S
        self.search_end = None if seconds is None else self.end - min(reserve, seconds)

    def search_left(self):
        return math.inf if self.search_end is None else self.search_end - clock()

    def left(self):
        return math.inf if self.end is None else self.end - clock()


def hyperband_epochs(max_epochs: int, factor: int = 3, min_epochs: int = 1) -> list:
    """Epochs each trial of a single-worker Hyperband trains, in the order KerasTuner 1.4.8's
    ``HyperbandOracle`` creates them (one iteration; its sizes and epochs formulas; its
    ``min_epochs``, see ``tuning.search.set_min_epochs``): a trial of a later round continues
    its parent's weights, so it trains the difference."""
    def size(s, r):
        return math.ceil(math.ceil(1 + math.log(max_epochs, factor)) / (s + 1) * factor ** (s - r))

    def epochs(s, r):
        return math.ceil(max_epochs / factor ** (s - r))

    brackets, e = 0, max_epochs
    while e >= min_epochs:
        e, brackets = e / factor, brackets + 1
    out = []
    for s in range(brackets - 1, -1, -1):
        for r in range(s + 1):
            out += [epochs(s, r) - (epochs(s, r - 1) if r else 0)] * size(s, r)
    return out


class Estimator:
    """Seconds of a trial of ``e`` epochs: mean setup + ``e`` x mean steady epoch, over the
    measured trials (``timing.json`` dicts), else over the calibration."""

    def __init__(self, calibration=None):
        self.calibration, self.measured = calibration, []

    def add(self, timing):
        if timing and timing.get("epoch_seconds"):
            self.measured.append(timing)

    def _rows(self):
        return self.measured or ([self.calibration] if self.calibration else [])

    def known(self) -> bool:
        return bool(self._rows())

    def mean(self, key) -> float:
        rows = self._rows()
        return sum(float(r[key]) for r in rows) / len(rows) if rows else 0.0

    def trial_seconds(self, epochs) -> float:
        return self.mean("setup_seconds") + epochs * self.mean("epoch_seconds")


def fitting_trials(epochs_list, estimator, seconds) -> list:
    """The leading trials of ``epochs_list`` whose estimates fit, one after the other, in
    ``seconds``: [(epochs, estimated seconds)]."""
    out, used = [], 0.0
    for e in epochs_list:
        cost = estimator.trial_seconds(e)
        if used + cost > seconds:
            break
        out.append((e, cost))
        used += cost
    return out


def retrain_plan(timing, n_train, n_val, n_eval, max_epochs, seconds):
    """(epochs, estimated seconds) of retraining a trial measured by ``timing`` on ``n_train``
    images validated on ``n_val`` and evaluated on ``n_eval``: as many epochs as fit in
    ``seconds`` (at least 1, at most ``max_epochs``)."""
    val_rate = timing["val_images"] / max(timing["val_seconds"], 1e-6)
    epoch = n_train / timing["img_per_s"] + n_val / val_rate
    fixed = timing["setup_seconds"] + n_eval / val_rate + EVAL_OVERHEAD_S
    epochs = max_epochs if math.isinf(seconds) else int((seconds - fixed) // epoch)
    epochs = max(1, min(max_epochs, epochs))
    return epochs, fixed + epochs * epoch


class Deadline(keras.callbacks.Callback):
    """Stops ``fit`` at the first batch that ends after ``deadline`` (a ``clock()`` time; None:
    never). Keras still validates the cut epoch and calls its ``on_epoch_end``, so the best
    checkpoint is kept; ``cut`` says it happened."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline, self.cut = deadline, False

    def on_train_batch_end(self, batch, logs=None):
        if self.deadline is not None and clock() >= self.deadline:
            self.cut = True
            self.model.stop_training = True

    def __deepcopy__(self, memo):
        return self  # KerasTuner deep-copies a trial's callbacks; this one reports back


class TrialClock(keras.callbacks.Callback):
    """Measures a trial (steady steps/s after its first batch, validation seconds) and prints
    an ETA line after each epoch: ``eta(trial_seconds_left)`` gives the search's part."""

    def __init__(self, label, epochs, steps, train_images, val_images, eta=None, verbose=True):
        super().__init__()
        self.label, self.epochs, self.steps, self.verbose, self.eta = label, epochs, steps, verbose, eta
        self.train_images, self.val_images = train_images, val_images
        self.start, self.done, self.first_batch = clock(), 0, None
        self.step_seconds, self.step_count, self.val_seconds = 0.0, 0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._batch_start = clock()

    def on_train_batch_end(self, batch, logs=None):
        now = clock()
        if self.first_batch is None:  # tracing and compiling: setup, not a step
            self.first_batch = now - self._batch_start
        else:
            self.step_seconds += now - self._batch_start
            self.step_count += 1
        self._batch_start = now

    def on_test_begin(self, logs=None):
        self._test_start = clock()

    def on_test_end(self, logs=None):
        self.val_seconds = clock() - self._test_start  # the last: traced already after the first

    def on_epoch_end(self, epoch, logs=None):
        self.done += 1
        if not self.verbose or self.model.stop_training:  # cut: the search says so itself
            return
        epoch_s = self.steps / self.steps_per_s() + self.val_seconds
        left = (self.epochs - self.done) * epoch_s
        line = (f"{self.label}: epoch {self.done}/{self.epochs}, {self.steps_per_s():.1f} steps/s, "
                f"trial ETA {hms(left)}")
        print(line + (f"; {self.eta(left)}" if self.eta else ""), flush=True)

    def steps_per_s(self) -> float:
        if self.step_count:
            return self.step_count / max(self.step_seconds, 1e-6)
        return 1.0 / max(self.first_batch or 1.0, 1e-6)

    def timing(self) -> dict:
        """The trial's measurements for ``timing.json`` (and ``Estimator``)."""
        seconds = clock() - self.start
        rate = self.steps_per_s()
        epoch_s = self.steps / rate + self.val_seconds
        return {"seconds": round(seconds, 3), "epochs": self.done, "steps_per_s": round(rate, 3),
                "img_per_s": round(rate * self.train_images / self.steps, 1),
                "val_images": self.val_images, "val_seconds": round(self.val_seconds, 3),
                "epoch_seconds": round(epoch_s, 3),
                "setup_seconds": round(max(0.0, seconds - self.done * epoch_s), 3)}

    def __deepcopy__(self, memo):
        return self


def calibrate(hypermodel, hp, x, y, val_images, steps=3) -> dict:
    """A ``timing.json``-like estimate of a trial of ``hp`` from ``steps`` training steps after
    the first (which traces): a validation image costs ``FORWARD_SHARE`` of a training image,
    and its tracing as much as the training step's."""
    start = clock()
    model = hypermodel.build(hp)
    bs = hypermodel.base.batch_size
    n = min(len(y), bs * (steps + 1))
    probe = TrialClock("calibration", 1, math.ceil(n / bs), n, 0, verbose=False)
    hypermodel.fit(hp, model, (x[:n, ..., None], y[:n]), y[:n], epochs=1, callbacks=[probe], verbose=0)
    rate = probe.steps_per_s()
    img_s = rate * min(bs, n)
    steps_full = math.ceil(len(y) / bs)
    val_seconds = val_images / (img_s / FORWARD_SHARE)
    trace = max(0.0, (probe.first_batch or 0.0) - 1.0 / rate)
    setup = (clock() - start) - (probe.first_batch or 0.0) - probe.step_seconds + 2 * trace
    return {"seconds": None, "epochs": 0, "steps_per_s": rate, "img_per_s": img_s,
            "val_images": val_images, "val_seconds": val_seconds,
            "epoch_seconds": steps_full / rate + val_seconds, "setup_seconds": max(0.0, setup),
            "calibration": True}
