"""The time budget of one training (config key ``time_budget``, ``--time-budget 14m``): one Keras
callback, :class:`TimeBudget`, handed to ``keras_fer.train.run`` through ``callbacks=``, and
:func:`train_within`, the driver that restarts the run once its epochs are fixed.

This sits above the library: ``keras_fer.train`` knows nothing of budgets (a ``TrainConfig``'s
``time_budget`` is read here, by the training CLI, the experiments and the search's retraining).

The same recipe takes 13 minutes on one 2-core machine and 22 on another. With a budget, the
run trains ``PROBE_EPOCHS`` (2) epochs, times the second (the first also traces the step), and
fixes its epochs: as many as fit in what is left of the budget, at most the config's ``epochs``.
The callback stops the fit there (its state, saved with the run's resume state, holds the
decision) and raises :class:`EpochsFixed`; ``train_within`` then runs the same config with
``epochs`` fixed, which resumes the run with a learning-rate schedule spanning them. The rates of
the first two epochs do not depend on the total (a cosine schedule needs a warm-up of at least
two epochs: ``keras_fer.durations.check_budget`` refuses less), so the run trains exactly what
``epochs=N`` without a budget would have: the same command on a slower machine trains fewer
epochs, not a truncated schedule.

A run killed later resumes with the same epochs. Should the epochs slow down after the decision
(another job on the cores), the run stops after the last epoch that leaves time for another, so
the budget holds (``cut_after`` in ``summary.json``; the schedule was then not finished). The
budget counts the fits' wall time over resumptions, not the data loading before them nor the
evaluation after them.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import keras

from keras_fer.durations import PROBE_EPOCHS, check_budget, minutes
from keras_fer.errors import UserError

STATE_KEY = "budget"  # the callback's key in the run's resume state


class EpochsFixed(Exception):
    """Raised at the end of the probing fit: the run is to go on with ``epochs`` epochs."""

    def __init__(self, epochs):
        super().__init__(f"time budget: the run has {epochs} epochs")
        self.epochs = epochs


def epochs_within(budget_s, elapsed_s, epoch_s, done, max_epochs, reserve_s=0.0) -> int:
    """The epochs a run can have: the ``done`` ones plus as many ``epoch_s``-second epochs as
    fit in ``budget_s - elapsed_s - reserve_s``, at most ``max_epochs``, at least ``done``."""
    left = budget_s - elapsed_s - reserve_s
    more = math.floor(left / epoch_s) if epoch_s > 0 else max_epochs
    return int(min(max_epochs, done + max(0, more)))


class TimeBudget(keras.callbacks.Callback):
    """Fixes the run's epochs after ``PROBE_EPOCHS`` epochs; when they are fewer than
    ``max_epochs`` it stops the fit there and raises ``EpochsFixed`` at its end (after the
    run's resume state was written, with this callback's state in it: ``resume_key``).

    Args:
        budget: the budget as written (``"14m"``).
        seconds: the budget in seconds.
        max_epochs: the config's ``epochs``.
    """

    resume_key = STATE_KEY  # keras_fer.train keeps get_state() in the run's resume state
    timer = staticmethod(time.monotonic)  # times the epochs (tests replace it)
    clock = staticmethod(time.monotonic)  # the budget's wall seconds

    def __init__(self, budget, seconds, max_epochs):
        super().__init__()
        self.budget, self.seconds, self.max_epochs = budget, float(seconds), int(max_epochs)
        self.epochs, self.epoch_s, self.cut_at, self.before = None, None, None, 0.0
        self.restart, self._durations, self._start = False, [], None

    def elapsed(self) -> float:
        """Wall seconds of the fits so far, over resumptions."""
        return self.before + (self.clock() - self._start if self._start is not None else 0.0)

    def on_train_begin(self, logs=None):
        self._start, self.restart = self.clock(), False

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = self.timer()

    def on_epoch_end(self, epoch, logs=None):
        duration = self.timer() - self._t0
        done = epoch + 1
        if self.epochs is not None:
            self._guard(done, duration)
            return
        self._durations.append(duration)
        if done < min(PROBE_EPOCHS, self.max_epochs):
            return
        epoch_s = self._durations[-1]
        # rebuilding the step for the fixed schedule traces it once more, as the first epoch did
        reserve = max(0.0, self._durations[0] - epoch_s) if len(self._durations) > 1 else 0.0
        self.epochs = epochs_within(self.seconds, self.elapsed(), epoch_s, done,
                                    self.max_epochs, reserve)
        self.epoch_s = round(epoch_s, 2)
        print(f"time budget {minutes(self.seconds)}: epoch {done} took {epoch_s:.0f} s, so the run "
              f"has {self.epochs} epochs (at most {self.max_epochs}); the schedule now spans "
              "them", flush=True)
        if self.epochs < self.max_epochs and not self.model.stop_training:  # (early stopping)
            self.model.stop_training = True
            self.restart = self.epochs > done  # go on with the schedule of self.epochs

    def on_train_end(self, logs=None):
        if self.restart:
            self.restart = False
            raise EpochsFixed(self.epochs)

    def _guard(self, done, duration):
        """Stop when another epoch as long as this one would end past the budget: the epochs
        slowed down after they were fixed (another job on the cores). The budget is a limit."""
        if done < self.epochs and self.elapsed() + duration > self.seconds:
            print(f"time budget {minutes(self.seconds)}: epoch {done} took {duration:.0f} s and "
                  f"another would end past the budget: stopping after {done} of {self.epochs} "
                  "epochs", flush=True)
            self.cut_at = done
            self.model.stop_training = True

    def summary(self) -> dict:
        return {"budget": self.budget, "epochs": self.epochs, "max_epochs": self.max_epochs,
                "epoch_seconds": self.epoch_s, "cut_after": self.cut_at}

    def get_state(self):
        return {"epochs": self.epochs, "epoch_s": self.epoch_s, "max_epochs": self.max_epochs,
                "seconds": self.elapsed()}

    def set_state(self, state):
        self.epochs, self.epoch_s = state.get("epochs"), state.get("epoch_s")
        self.max_epochs = int(state.get("max_epochs", self.max_epochs))
        self.before, self._start = float(state.get("seconds", 0.0)), None


def fixed_epochs(out) -> int | None:
    """The epochs an interrupted budgeted run in ``out`` had fixed (from its resume state)."""
    from keras_fer import rundir
    from keras_fer.train.callbacks import ResumeState

    path = Path(out) / rundir.RESUME_FILE
    if not path.is_file():
        return None
    return (ResumeState.read_meta(path)["states"].get(STATE_KEY) or {}).get("epochs")


def train_within(cfg, data=None, *, callbacks=(), resume_every_s=0.0, force=False) -> Path:
    """``keras_fer.train.run(cfg, ...)`` within ``cfg.time_budget`` (without one: just ``run``).

    The run gets a ``TimeBudget``; when it fixes fewer epochs than ``cfg.epochs`` the run goes
    on (resumes) with ``epochs`` fixed, and ``summary.json`` records the decision
    (``time_budget``)."""
    from keras_fer import rundir
    from keras_fer.io_utils import read_json, write_json
    from keras_fer.train import run
    from keras_fer.train.core import default_out

    seconds = check_budget(cfg)
    if seconds is None:
        return run(cfg.replace(time_budget=None) if cfg.time_budget else cfg, data,
                   callbacks=callbacks, resume_every_s=resume_every_s, force=force)
    from keras_fer.distribute import make_plan

    if make_plan(cfg.devices).processes > 1:  # each host would time, and fix, its own epochs
        raise UserError("time_budget on several hosts is not supported: give the run its epochs")
    if cfg.out is None:
        cfg = cfg.replace(out=str(default_out(cfg)))
    if data is None:  # once, not at the restart
        from keras_fer.data import load

        data = load(cfg.data, classes=cfg.classes)
    budget = TimeBudget(cfg.time_budget, seconds, cfg.epochs)
    fixed = fixed_epochs(cfg.out) if not force else None
    while True:
        run_cfg = cfg.replace(epochs=fixed) if fixed else cfg
        try:
            out = run(run_cfg, data, callbacks=[*callbacks, budget],
                      resume_every_s=resume_every_s, force=force)
            break
        except EpochsFixed as e:  # the resume state holds them; go on with their schedule
            fixed, force = e.epochs, False
    summary_path = Path(out) / rundir.SUMMARY_FILE
    write_json(summary_path, {**read_json(summary_path), "time_budget": budget.summary()})
    return out
