"""``time_budget``: train as many epochs as fit in a wall-clock budget (``"14m"``, ``"2h50m"``).

The same recipe takes 13 minutes on one 2-core machine and 22 on another. With a budget, the
run trains ``PROBE_EPOCHS`` (2) epochs, times the second (the first also traces the step), and
fixes its epochs: as many as fit in what is left of the budget, at most the config's
``epochs``. The fit stops there and the run resumes itself from its resume state, with the
learning-rate schedule spanning the fixed epochs. The rates of the first two epochs do not
depend on the total (a cosine schedule needs a warm-up of at least two epochs: the config
checks it), so the run trains exactly what ``epochs=N`` without a budget would have: the same
command on a slower machine trains fewer epochs, not a truncated schedule.

The decision is part of the resume state: a run killed later resumes with the same epochs.
Should the epochs slow down after the decision (another job on the cores), the run stops after
the last epoch that leaves time for another, so the budget holds (``cut_after`` in
``summary.json``; the schedule was then not finished).
The budget counts the training's wall time as the progress line does (from the run's start,
over resumptions), not the data loading before it nor the evaluation after it.
"""
from __future__ import annotations

import math
import time

import keras

from keras_fer.config import PROBE_EPOCHS
from keras_fer.durations import minutes


def epochs_within(budget_s, elapsed_s, epoch_s, done, max_epochs, reserve_s=0.0) -> int:
    """The epochs a run can have: the ``done`` ones plus as many ``epoch_s``-second epochs as
    fit in ``budget_s - elapsed_s - reserve_s``, at most ``max_epochs``, at least ``done``."""
    left = budget_s - elapsed_s - reserve_s
    more = math.floor(left / epoch_s) if epoch_s > 0 else max_epochs
    return int(min(max_epochs, done + max(0, more)))


class TimeBudget(keras.callbacks.Callback):
    """Fixes the run's epochs after ``PROBE_EPOCHS`` epochs and stops the fit there
    when they are fewer than ``max_epochs``; ``stopped``: the trainer is to rebuild the
    schedule for them and resume.

    Args:
        budget: the config's ``time_budget`` (``"14m"``).
        max_epochs: the config's ``epochs``.
        clock: the run's ``Clock`` (wall seconds over resumptions; its ``budget_s``, the
            budget in seconds).
    """

    timer = staticmethod(time.monotonic)  # times the epochs (tests replace it)

    def __init__(self, budget, max_epochs, clock):
        super().__init__()
        self.budget, self.seconds = budget, clock.budget_s
        self.max_epochs, self.clock = int(max_epochs), clock
        self.epochs, self.epoch_s, self.stopped, self.cut_at = None, None, False, None
        self._durations = []

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
        self.epochs = epochs_within(self.seconds, self.clock.seconds(), epoch_s, done,
                                    self.max_epochs, reserve)
        self.epoch_s = round(epoch_s, 2)
        print(f"time budget {minutes(self.seconds)}: epoch {done} took {epoch_s:.0f} s, so the run "
              f"has {self.epochs} epochs (at most {self.max_epochs}); the schedule now spans "
              "them", flush=True)
        if self.epochs < self.max_epochs and not self.model.stop_training:  # (early stopping)
            self.model.stop_training = True
            self.stopped = self.epochs > done  # resume with the schedule of self.epochs

    def _guard(self, done, duration):
        """Stop when another epoch as long as this one would end past the budget: the epochs
        slowed down after they were fixed (another job on the cores). The budget is a limit."""
        if done < self.epochs and self.clock.seconds() + duration > self.seconds:
            print(f"time budget {minutes(self.seconds)}: epoch {done} took {duration:.0f} s and "
                  f"another would end past the budget: stopping after {done} of {self.epochs} "
                  "epochs", flush=True)
            self.cut_at = done
            self.model.stop_training = True

    def summary(self) -> dict:
        return {"budget": self.budget, "epochs": self.epochs, "max_epochs": self.max_epochs,
                "epoch_seconds": self.epoch_s, "cut_after": self.cut_at}

    def get_state(self):
        return {"epochs": self.epochs, "epoch_s": self.epoch_s, "max_epochs": self.max_epochs}

    def set_state(self, state):
        self.epochs, self.epoch_s = state.get("epochs"), state.get("epoch_s")
        self.max_epochs = int(state.get("max_epochs", self.max_epochs))
