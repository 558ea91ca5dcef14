"""``run(cfg, data=None) -> Path``: one training run (or k folds) into a run directory.

Resuming: after finished epochs the run directory holds ``ckpt/resume.npz`` (weights,
optimizer state, best value, patience counters, history, learning rate), written after every
finished epoch. Running the same command again continues from the last finished epoch; it is
deleted only when the run ends normally (epochs done or early stopping), never after a NaN stop.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from keras_fer import rundir
from keras_fer.config import resume_settings
from keras_fer.config_parts import LOSSES
from keras_fer.data.core import check_labels
from keras_fer.devices import native_precision, on_device, tf_fit_args
from keras_fer.distribute import make_plan
from keras_fer.errors import UserError
from keras_fer.io_utils import ensure_out_dir, write_json
from keras_fer.metrics import epoch_metrics
from keras_fer.train.callbacks import (
    BestCheckpoint,
    Clock,
    HistoryLog,
    NaNGuard,
    NonFiniteLoss,
    ResumeState,
    keras_verbose,
    save_model_atomic,
    tensorboard_callbacks,
)
from keras_fer.train.ema import ema_swap
from keras_fer.train.optimizers import base_learning_rate, build_optimizer
from keras_fer.train.report import finish_run, fold_summary, format_folds
from keras_fer.train.schedules import make_schedule
from keras_fer.train.sources import load_initial_weights, load_teacher
from keras_fer.train.wrapper import TrainingModel

RESUME_FILE = rundir.RESUME_FILE


class TrainingFailed(RuntimeError):
    """Training diverged (NaN/inf loss); the message says where and what was kept."""


def build_training_model(model, cfg, *, optimizer=None, train_labels=None) -> TrainingModel:
    """The compiled TRAINING model around the inference ``model`` (see ``wrapper``).

    ``optimizer``: a Keras optimizer (default: ``cfg.optimizer`` with a constant rate);
    ``train_labels``: needed for the class-weighted loss (inverse class frequency).
    """
    from keras_fer.augment import Augment

    loss = dict(cfg.loss)
    name = loss.pop("name")
    smoothing = loss.pop("label_smoothing", 0.0)
    weights = loss.pop("class_weights", None)
    l2 = loss.pop("l2", 0.0)
    if name not in LOSSES:
        raise UserError(f"loss: unknown name {name!r} (known: {', '.join(LOSSES)})")
    if loss:
        raise UserError(f"loss: unknown setting {sorted(loss)[0]!r} "
                        "(known: name, label_smoothing, class_weights, l2)")
    if not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing < 1.0:
        raise UserError(f"loss: label_smoothing must be in [0, 1), got {smoothing!r}")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
        raise UserError(f"loss: l2 must be a number >= 0, got {l2!r}")
    num_classes = int(model.output_shape[-1])
    if name == "class_weighted" and weights is None:
        if train_labels is None:
            raise UserError("loss class_weighted: the training labels are needed for the weights")
        from keras_fer.data import class_weights

        cw = class_weights(train_labels, num_classes)
        weights = [cw[c] for c in range(num_classes)]
    if weights is not None and len(weights) != num_classes:
        raise UserError(f"loss: class_weights needs {num_classes} numbers, got {len(weights)}")
    aug = dict(cfg.augment)
    if aug and "seed" not in aug:
        aug["seed"] = cfg.seed
    augment = Augment.from_config_dict(aug, source="augment") if aug else None
    teacher, alpha, temperature = load_teacher(cfg, num_classes)
    tm = TrainingModel(model, augment=augment, label_smoothing=float(smoothing),
                       class_weights=weights if name == "class_weighted" or weights else None,
                       l2=float(l2), teacher=teacher, distill_alpha=alpha,
                       distill_temperature=temperature)
    # weighted: a validation image padded in for a device split (keras_fer.distribute) weighs 0
    tm.compile(optimizer=optimizer or build_optimizer(cfg.optimizer),
               weighted_metrics=epoch_metrics(num_classes), jit_compile=_jit_compile())
    return tm


def _jit_compile():
    """XLA, except TensorFlow on a CPU (measured slower there: 63 vs 98 img/s for baseline)."""
    from keras_fer.devices import accelerator_name

    if keras.backend.backend() == "tensorflow" and accelerator_name() is None:
        return False
    return "auto"


def select_data(cfg, data):
    """``(train, val, classes)``: train/val are (images, labels) of the run's splits.

    Training = the Training split (``limit``: a stratified subset); validation = PublicTest
    (capped at ``max(7, limit * val_fraction)`` images under ``limit``) or a stratified
    ``val_fraction`` of Training. PrivateTest is never touched.
    """
    from keras_fer.data import oversample, stratified_split, stratified_subset

    data, train_idx = training_pool(cfg, data)
    if cfg.val == "split":
        tr, va = stratified_split(data.labels[train_idx], cfg.val_fraction, cfg.seed)
        train_idx, val_idx = train_idx[tr], train_idx[va]
    else:
        val_idx = np.nonzero(data.splits == "PublicTest")[0]
        if val_idx.size == 0:
            raise UserError(f"{cfg.data or 'data'}: no PublicTest images to validate on "
                            "(use --val split)")
        if cfg.limit:
            cap = max(7, round(cfg.limit * cfg.val_fraction))
            val_idx = val_idx[stratified_subset(data.labels[val_idx], cap, cfg.seed)]
    x, y = data.images[train_idx], data.labels[train_idx]
    if cfg.oversample:
        spec = dict(cfg.oversample)
        x, y = oversample(x, y, spec["class"], spec.get("factor", 2), seed=cfg.seed,
                          classes=data.classes)
    return (x, y), (data.images[val_idx], data.labels[val_idx]), tuple(data.classes)


def training_pool(cfg, data):
    """``(data, train_idx)``: classes dropped, labels checked, Training (``limit``-ed)."""
    from keras_fer.data import drop_classes, stratified_subset

    if cfg.drop_classes:
        data = drop_classes(data, cfg.drop_classes)
    check_labels(data.labels, data.paths, len(data.classes))
    train_idx = np.nonzero(data.splits == "Training")[0]
    if train_idx.size == 0:
        raise UserError(f"{cfg.data or 'data'}: no Training images")
    if cfg.limit:
        train_idx = train_idx[stratified_subset(data.labels[train_idx], cfg.limit, cfg.seed)]
    return data, train_idx


class BalancedSequence(keras.utils.PyDataset):
    """Class-balanced batches (``keras_fer.data.balanced_batches``), reshuffled every epoch."""

    def __init__(self, images, labels, batch_size, seed=0):
        super().__init__()
        self.images, self.labels, self.batch_size, self.seed = images, labels, batch_size, seed
        self.on_epoch_end()

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        idx = self.batches[i]
        return (self.images[idx], self.labels[idx]), self.labels[idx]

    def on_epoch_end(self):
        from keras_fer.data import balanced_batches

        self.seed += 1
        self.batches = list(balanced_batches(self.labels, self.batch_size, seed=self.seed))


def default_out(cfg) -> Path:
    return Path("runs") / f"{Path(str(cfg.model)).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_net(cfg, num_classes, policy=None):
    """The inference model under dtype ``policy`` (default: "mixed_bfloat16" when
    ``cfg.mixed_precision``, else the global one); the global policy is restored afterwards."""
    from keras_fer.models import build

    previous = keras.config.dtype_policy()
    if policy is None and cfg.mixed_precision:
        policy = "mixed_bfloat16"
    if policy is not None:
        keras.mixed_precision.set_dtype_policy(policy)
    try:
        return build(cfg.model, num_classes=num_classes, **cfg.model_args)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def train_once(cfg, train, val, classes, out: Path, *, callbacks=(), resume_every_s=0.0,
               plan=None) -> Path:
    """Train on ``train`` = (images, labels), select on ``val``; write the run directory.

    ``plan``: a ``keras_fer.distribute.Plan`` (default: ``make_plan(cfg.devices)``). On several
    hosts the first process writes ``out``, process k its own copy ``out.process<k>``.
    """
    plan = plan or make_plan(cfg.devices)
    plan.check_batch(cfg.batch_size)
    out = Path(out) if plan.is_chief else Path(f"{out}.process{plan.process_id}")
    with plan.scope():
        return _train(cfg, plan, train, val, classes, out, callbacks, resume_every_s)


def _train(cfg, plan, train, val, classes, out, callbacks, resume_every_s) -> Path:
    (x, y), (vx, vy) = train, val
    out = ensure_out_dir(out)
    x, y = plan.trim(x, y, cfg.seed)
    if len(y) < len(train[1]):
        print(f"note: {len(train[1]) - len(y)} of {len(train[1])} training images left out so "
              f"that every batch splits evenly across {plan.devices} devices", flush=True)
    saved = ResumeState.read_meta(out / RESUME_FILE) if (out / RESUME_FILE).is_file() else None
    keras.utils.set_random_seed(cfg.seed)
    net = build_net(cfg, len(classes))
    if cfg.init_from and saved is None:  # a resumed run's weights come from its resume state
        said = load_initial_weights(net, cfg.init_from, cfg.init_layers, cfg.seed)
        if cfg.verbose:
            print(said, flush=True)
    steps = math.ceil(len(y) / cfg.batch_size)
    lr, schedule_cb = make_schedule(cfg.schedule, base_learning_rate(cfg.optimizer), cfg.epochs,
                                    steps, cfg.monitor)
    tm = build_training_model(net, cfg, optimizer=build_optimizer(cfg.optimizer, lr, cfg.ema),
                              train_labels=y)
    clock = Clock(cfg.epochs, verbose=bool(cfg.verbose))
    history = HistoryLog(out / rundir.HISTORY_FILE)
    best = BestCheckpoint(net, out / rundir.MODEL_FILE, cfg.monitor, cfg.early_stopping)
    stateful = {"history": history, "best": best, "clock": clock}
    if schedule_cb is not None:
        stateful["schedule"] = schedule_cb
    ema = ema_swap(net, x, cfg)
    if ema is not None:
        stateful["ema"] = ema
    for cb in callbacks:  # a caller's callback with a resume_key resumes with the run
        if getattr(cb, "resume_key", None):
            stateful[cb.resume_key] = cb
    fingerprint = json.dumps(resume_settings(cfg.to_dict()), sort_keys=True, default=str)
    resume = ResumeState(out / RESUME_FILE, stateful, fingerprint, resume_every_s, cfg.epochs)
    initial_epoch = 0
    if saved is not None:
        stored = json.loads(saved["fingerprint"])
        if resume_settings(stored) != resume_settings(cfg.to_dict()):
            raise UserError(f"{resume.path}: resume state of a run with other settings; use "
                            f"another --out or delete {resume.path.parent}")
    tm.build_state(x[..., None], y)  # before the first traced step (and a restore)
    if saved is not None:
        initial_epoch = resume.restore(tm)
        print(f"resuming {out} after epoch {initial_epoch} (best {cfg.monitor} "
              f"{best.best})", flush=True)
    write_json(out / rundir.CONFIG_FILE, {**cfg.to_dict(), "out": str(out)})

    # the EMA swap comes first, so that every callback after it sees the averaged weights
    cbs = [c for c in (ema, schedule_cb) if c is not None] + list(callbacks)
    if tm.augment is not None and tm.augment.alternate:
        from keras_fer.augment import AugmentEpoch

        cbs.append(AugmentEpoch(tm.augment))
    cbs += [NaNGuard(), history, best, clock]
    if cfg.tensorboard:
        cbs += tensorboard_callbacks(out / "logs")
    cbs.append(resume)
    if cfg.verbose:
        print(f"training {cfg.model} on {len(y)} images, validating on {len(vy)} "
              f"({cfg.val}), epochs {initial_epoch + 1}..{cfg.epochs}, {plan.describe()} "
              f"-> {out}", flush=True)
    if initial_epoch < cfg.epochs:
        try:
            tm.fit(**_fit_data(cfg, plan, x, y, vx, vy, initial_epoch), epochs=cfg.epochs,
                   initial_epoch=initial_epoch, callbacks=cbs, verbose=keras_verbose(cfg.verbose))
        except NonFiniteLoss as e:
            raise TrainingFailed(f"{out}: {e} ({resume.path})") from None
    if not (out / rundir.MODEL_FILE).is_file():  # no finite validation value ever
        save_model_atomic(net, out / rundir.MODEL_FILE)
    finish_run(cfg, out, net, classes, history, best, clock, len(y), len(vy), plan)
    shutil.rmtree(out / RESUME_FILE.parent, ignore_errors=True)
    return out


def _fit_data(cfg, plan, x, y, vx, vy, initial_epoch=0) -> dict:
    """``fit``'s data arguments: this process's share of the training and validation images,
    its share of each global batch. On TensorFlow, ``tf_fit_args``' pipelines (no autotuning:
    Keras' pipeline of arrays stalls up to a minute at each epoch's end)."""
    x, y = plan.share(x, y)
    batch = plan.process_batch(cfg.batch_size)
    vx, vy, weights, val_batch = plan.val_arrays(vx, vy)

    def val_data(place):  # ((images, labels), labels[, weights]): the step reads both
        images, labels = place(vx[..., None]), place(vy)
        return ((images, labels), labels) + (() if weights is None else (weights,))

    if keras.backend.backend() == "tensorflow" and not cfg.balanced_sampler:
        return tf_fit_args((x[..., None], y), y, batch, cfg.seed, (initial_epoch, cfg.epochs),
                           val_data(lambda a: a), val_batch)
    if cfg.balanced_sampler:
        args = {"x": BalancedSequence(x[..., None], y, batch, cfg.seed)}
    else:  # uint8 images stay resident on the accelerator; the step casts them
        dx, dy = on_device(x[..., None]), on_device(y)
        args = {"x": (dx, dy), "y": dy, "batch_size": batch}
    args["validation_data"] = val_data(on_device)
    args["validation_batch_size"] = val_batch
    return args


def run(cfg, data=None, *, callbacks=(), resume_every_s=0.0, force=False) -> Path:
    """Train as ``cfg`` says; return the run directory (``cfg.out`` or runs/<model>-<time>).

    ``data``: a ``keras_fer.data.FERData`` (default: ``load(cfg.data)``). ``callbacks``: extra
    Keras callbacks (one with a ``resume_key`` keeps its ``get_state()`` in the resume state);
    ``cfg.time_budget`` is not read here (``keras_fer.budget.train_within`` keeps it).
    ``resume_every_s``: least seconds between two resume-state writes.
    ``force``: replace a finished run or a release in the output folder (without it that is a
    UserError; an unfinished run of the same settings is resumed, see ``rundir.claim_out``).
    With ``cfg.folds = K``: K stratified folds of Training into ``OUT/fold<k>``, and
    ``OUT/summary.json`` with each fold and mean ± std.
    """
    plan = make_plan(cfg.devices)  # first: joining several hosts must precede any JAX work
    cfg, note = native_precision(cfg)  # before a resumed run's settings are compared
    if note:
        print(note, flush=True)
    out = Path(cfg.out) if cfg.out else default_out(cfg)
    rundir.claim_out(out, force, config=cfg.to_dict())
    if data is None:
        from keras_fer.data import load

        data = load(cfg.data, classes=cfg.classes)
    out = _run(cfg, data, out, callbacks, resume_every_s, plan)
    rundir.release_aside(out)
    return out


def _run(cfg, data, out, callbacks, resume_every_s, plan) -> Path:
    if not cfg.folds:
        train, val, classes = select_data(cfg, data)
        return train_once(cfg, train, val, classes, out, callbacks=callbacks,
                          resume_every_s=resume_every_s, plan=plan)
    from keras_fer.data import stratified_kfold

    if cfg.oversample:
        raise UserError("oversample with folds is not supported (copies would leak into the "
                        "held-out fold)")
    data, idx = training_pool(cfg, data)
    x, y, classes = data.images[idx], data.labels[idx], tuple(data.classes)
    results = []
    for k, (tr, va) in enumerate(stratified_kfold(y, cfg.folds, cfg.seed), start=1):
        fold_dir = out / f"fold{k}"
        if rundir.out_state(fold_dir) == "finished":  # a resumed k-fold run keeps its done folds
            if not rundir.resumes(fold_dir, cfg.to_dict()):
                raise UserError(f"{fold_dir}: a finished fold of other settings; pass --force")
            print(f"fold {k}: finished before, kept ({fold_dir})", flush=True)
        else:
            fold_dir = train_once(cfg, (x[tr], y[tr]), (x[va], y[va]), classes, fold_dir,
                                  callbacks=callbacks, resume_every_s=resume_every_s, plan=plan)
        summary = json.loads((fold_dir / rundir.SUMMARY_FILE).read_text())
        results.append({"fold": k, "dir": str(fold_dir), "best_epoch": summary["best_epoch"],
                        "best": summary["best"]})
    folds = fold_summary(results)
    if not plan.is_chief:  # the first process writes the folds' summary
        return out
    write_json(out / rundir.SUMMARY_FILE, {"folds_k": cfg.folds, **folds})
    write_json(out / rundir.CONFIG_FILE, {**cfg.to_dict(), "out": str(out)})
    print(format_folds(folds), flush=True)
    return out
