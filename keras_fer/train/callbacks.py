"""Training callbacks that survive an interruption: every one keeps its state in
``get_state()`` (JSON) and the resume file stores it with the weights, so a resumed run goes on
with the same best value, patience counters, history and learning rate.

- ``BestCheckpoint``: saves the INFERENCE model atomically when ``monitor`` improves; early
  stopping after ``patience`` epochs without improvement.
- ``NaNGuard``: raises ``NonFiniteLoss`` at a non-finite loss, so no callback writes anything
  of that epoch (unlike Keras' TerminateOnNaN + BackupAndRestore it never deletes the resume
  state: the run can be resumed from the last good epoch).
- ``HistoryLog``: one row per epoch into ``history.csv`` (atomic rewrite) with the rate.
- ``ResumeState``: weights + optimizer variables + random-generator states + the callbacks'
  states in one ``.npz``,
  written atomically after finished epochs (at most every ``every_s`` seconds).
- ``Clock``: wall and CPU seconds over resumptions, a progress line with an ETA per epoch.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from keras_fer.config import EPOCH_METRICS as HISTORY_KEYS
from keras_fer.errors import UserError
from keras_fer.io_utils import atomic_path
from keras_fer.rundir import read_resume_meta, write_history
from keras_fer.train.schedules import current_lr, is_better


class BestCheckpoint(keras.callbacks.Callback):
    """Save ``net`` to ``path`` (atomically) whenever ``monitor`` improves; stop after
    ``patience`` epochs without improvement (None: never)."""

    def __init__(self, net, path, monitor="val_accuracy", patience=None):
        super().__init__()
        self.net, self.path, self.monitor, self.patience = net, Path(path), monitor, patience
        self.best, self.best_epoch, self.best_logs = None, None, {}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"monitor {self.monitor!r} is not among the epoch's metrics "
                           f"({', '.join(sorted(logs))})")
        value = float(logs[self.monitor])
        if math.isfinite(value) and (self.best is None or is_better(value, self.best, self.monitor)):
            save_model_atomic(self.net, self.path)
            self.best, self.best_epoch = value, int(epoch)
            self.best_logs = {k: float(v) for k, v in logs.items()}
        elif self.patience is not None and self.best_epoch is not None \
                and epoch - self.best_epoch >= self.patience:
            print(f"early stopping: no improvement of {self.monitor} for {self.patience} epochs "
                  f"(best {self.best:.4f} at epoch {self.best_epoch + 1})", flush=True)
            self.model.stop_training = True

    def get_state(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "best_logs": self.best_logs}

    def set_state(self, state):
        self.best, self.best_epoch = state.get("best"), state.get("best_epoch")
        self.best_logs = dict(state.get("best_logs") or {})


def save_model_atomic(model, path) -> None:
    """``model.save`` to a temporary file beside ``path``, then rename: a kill mid-write leaves
    the previous file intact."""
    with atomic_path(path) as tmp:
        os.remove(tmp)  # Keras refuses to overwrite without asking when the file exists
        model.save(tmp)


class NonFiniteLoss(RuntimeError):
    """The loss of a training batch was NaN or infinite; the message says where."""


class NaNGuard(keras.callbacks.Callback):
    """Raise ``NonFiniteLoss`` at the first batch whose loss is NaN or infinite. Raising (rather
    than ``stop_training``) leaves the epoch unfinished: no validation, no checkpoint, history
    row or resume state of the diverged weights."""

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(f"loss became {float(loss)} at epoch {self._epoch + 1}, batch "
                                f"{batch + 1}: training stopped (lower the learning rate or "
                                "check the data); the last good epoch is kept for resuming")


class HistoryLog(keras.callbacks.Callback):
    """Collects one row per epoch (epoch, train and val metrics, lr) and rewrites
    ``history.csv`` atomically after each epoch. ``lr`` is the optimizer's rate at the epoch's
    end: the one the next step would use (a per-step schedule's next epoch, a plateau's cut)."""

    def __init__(self, path):
        super().__init__()
        self.path, self.rows = Path(path), []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": int(epoch) + 1}
        for prefix in ("", "val_"):
            for key in HISTORY_KEYS:
                if prefix + key in logs:
                    row[prefix + key] = float(logs[prefix + key])
        row["lr"] = current_lr(self.model.optimizer)
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        write_history(self.path, self.rows)

    def get_state(self):
        return {"rows": self.rows}

    def set_state(self, state):
        self.rows = list(state.get("rows") or [])


class ResumeState(keras.callbacks.Callback):
    """Writes ``path`` (.npz): the training model's weights, the optimizer's variables, the
    random generators' states and ``{"epoch": finished epochs, "states": {name:
    callback.get_state()}, "fingerprint": ...}`` after each finished epoch (no more often than
    every ``every_s`` seconds, always after the last one). ``restore`` loads it back and
    returns the epoch to start from."""

    def __init__(self, path, stateful: dict, fingerprint: str, every_s: float = 0.0,
                 epochs=None):
        super().__init__()
        self.path, self.stateful, self.fingerprint = Path(path), stateful, fingerprint
        self.every_s, self.epochs = every_s, epochs
        self._last = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        last = self.epochs is not None and epoch + 1 >= self.epochs
        if now - self._last >= self.every_s or last or self.model.stop_training:
            self.save(epoch + 1)
            self._last = now

    def save(self, finished_epochs: int) -> None:
        meta = {"epoch": finished_epochs, "fingerprint": self.fingerprint,
                "states": {k: cb.get_state() for k, cb in self.stateful.items()}}
        arrays = {f"w{i}": w for i, w in enumerate(self.model.get_weights())}
        for i, v in enumerate(self.model.optimizer.variables):
            arrays[f"o{i}"] = keras.ops.convert_to_numpy(v)
        for i, v in enumerate(_random_states(self.model)):
            arrays[f"r{i}"] = keras.ops.convert_to_numpy(v)
        arrays["meta"] = np.array(json.dumps(meta))
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    @staticmethod
    def read_meta(path):
        return read_resume_meta(path)

    def restore(self, model) -> int:
        """Load the state into ``model`` (compiled) and the callbacks; the next epoch index."""
        with np.load(self.path) as z:
            meta = json.loads(str(z["meta"]))
            opt = model.optimizer
            if not opt.built:
                opt.build(model.trainable_variables)
            n_opt = sum(1 for k in z.files if k.startswith("o"))
            if n_opt != len(opt.variables):  # e.g. a rate variable, where now a schedule
                raise UserError(f"{self.path}: resume state of another optimizer set-up ({n_opt} "
                                f"variables, this run's has {len(opt.variables)}; written by an "
                                f"older version?); use another --out or delete {self.path.parent}")
            n_w = sum(1 for k in z.files if k.startswith("w"))
            model.set_weights([z[f"w{i}"] for i in range(n_w)])
            for i, v in enumerate(opt.variables):
                v.assign(z[f"o{i}"])
            for i, v in enumerate(_random_states(model)):
                if f"r{i}" in z.files:  # resume files of older versions lack them
                    v.assign(z[f"r{i}"])
        for key, cb in self.stateful.items():
            if key in meta["states"]:
                cb.set_state(meta["states"][key])
        return int(meta["epoch"])


def _random_states(model) -> list:
    """The model's variables that are not weights: its random generators' states (the
    augmentation's), so that a resumed run draws what the uninterrupted one would have."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class Clock(keras.callbacks.Callback):
    """Wall and CPU seconds summed over resumptions, and a progress line with an ETA after each
    epoch (``verbose``). CPU seconds are
    the process's, all threads: 1 CPU-hour is one core busy for an hour."""

    def __init__(self, epochs, verbose=True):
        super().__init__()
        self.epochs, self.verbose = epochs, verbose
        self.before, self.cpu_before = 0.0, 0.0
        self.start, self.cpu_start = time.monotonic(), time.process_time()
        self._first_epoch = None

    def seconds(self):
        return self.before + time.monotonic() - self.start

    def cpu_seconds(self):
        return self.cpu_before + time.process_time() - self.cpu_start

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch is None:
            self._first_epoch, self._t0 = epoch, time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if not self.verbose:
            return
        done = epoch + 1 - self._first_epoch
        per_epoch = (time.monotonic() - self._t0) / max(1, done)
        left = (self.epochs - epoch - 1) * per_epoch
        print(f"progress: epoch {epoch + 1}/{self.epochs}, {per_epoch:.0f} s/epoch, elapsed "
              f"{hms(self.seconds())}, ETA {hms(left)} "
              f"({self.cpu_seconds() / 3600:.2f} CPU-hours so far)", flush=True)

    def get_state(self):
        return {"seconds": self.seconds(), "cpu_seconds": self.cpu_seconds()}

    def set_state(self, state):
        self.before = float(state.get("seconds", 0.0))
        self.cpu_before = float(state.get("cpu_seconds", 0.0))


def hms(seconds) -> str:
    """H:MM:SS of a duration (the progress and ETA lines of training and tuning)."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def keras_verbose(v):
    """``fit``'s verbose of a config's: 0 silent, 1 progress bar, 2 a line per epoch."""
    return 0 if not v else (1 if v == 1 else 2)


def tensorboard_callbacks(log_dir, what="TensorBoard log") -> list:
    """[Keras' TensorBoard callback writing to ``log_dir``], or [] with a note that ``what`` is
    not written."""
    try:  # Keras' TensorBoard callback writes with tf.summary, which needs both packages
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        print(f"note: tensorflow/tensorboard not installed: no {what}", flush=True)
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0)]
