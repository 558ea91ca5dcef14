"""End-to-end training on a small real FER2013 subset: learning, the run directory, resume
after a kill, the known traps (labels out of range, NaN stop, best value after resume, atomic
checkpoint), k-fold, and a NaN loss at the command line (the rest of it: test_cli.py)."""
import importlib.util
import json
import math
import shutil

import keras
import numpy as np
import pytest

from keras_fer import rundir
from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.train import TrainingFailed, run
from keras_fer.train.callbacks import BestCheckpoint, ResumeState, save_model_atomic
from tests.train.conftest import read_history


@pytest.fixture(scope="module")
def trained(fer_small, tiny_model_file, tmp_path_factory):
    """16 epochs of the tiny CNN on 280 Training images, validated on 280 PublicTest."""
    out = tmp_path_factory.mktemp("trained") / "run"
    cfg = TrainConfig(model=tiny_model_file, epochs=16, batch_size=32, seed=0,
                      optimizer={"name": "adam", "learning_rate": 5e-3},
                      augment={"flip": True}, tensorboard=True, verbose=0, out=str(out))
    return run(cfg, fer_small)


def test_learns_and_beats_chance_on_held_out_private_test(trained, fer_small):
    from keras_fer.evaluate import predict_proba

    model = rundir.load_model(trained)
    x, y = fer_small.split("PrivateTest")  # never seen, never used to choose
    acc = float((predict_proba(model, x).argmax(1) == y).mean())
    chance = 1 / 7  # 40 images a class
    assert acc > chance + 2 * math.sqrt(chance * (1 - chance) / len(y)), acc  # 2 sigma above it


def test_run_directory_files_parse(trained, fer_small):
    cfg = rundir.read_config(trained)
    assert cfg.epochs == 16 and cfg.out == str(trained)
    meta = rundir.read_meta(trained)
    assert meta["classes"] == list(fer_small.classes)
    assert meta["input_shape"] == [48, 48, 1]
    rows = read_history(trained)
    assert [int(r["epoch"]) for r in rows] == list(range(1, 17))
    for key in ("loss", "accuracy", "macro_f1", "average_accuracy", "val_loss", "val_accuracy",
                "val_macro_f1", "val_average_accuracy", "lr"):
        assert math.isfinite(float(rows[0][key])), key
    val_acc = [float(r["val_accuracy"]) for r in rows]
    assert meta["best_epoch"] == int(np.argmax(val_acc)) + 1
    assert meta["best"]["val_accuracy"] == pytest.approx(max(val_acc))
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["best_epoch"] == meta["best_epoch"] and summary["epochs_run"] == 16
    assert summary["train_images"] == 280 and summary["val_images"] == 280
    assert (trained / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if importlib.util.find_spec("tensorboard"):
        assert any((trained / "logs").rglob("events.out.tfevents.*"))
    assert not (trained / "ckpt").exists()  # resume state removed after a normal end
    model = rundir.load_model(trained)  # the inference model, without the training wrapper
    assert model.get_layer("predictions") is not None
    assert model.output_shape == (None, 7)


class Kill(keras.callbacks.Callback):
    """Raises at the start of epoch ``at`` (0-based): a kill after ``at`` finished epochs."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt("killed")


class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_resume_after_kill_continues_from_last_finished_epoch(fer_small, tiny_cfg):
    cfg = tiny_cfg.replace(epochs=4, schedule={"name": "reduce_on_plateau", "patience": 1})
    with pytest.raises(KeyboardInterrupt):
        run(cfg, fer_small, callbacks=[Kill(2)], resume_every_s=0)
    out = rundir.check_run_dir(cfg.out)
    state = ResumeState.read_meta(out / "ckpt" / "resume.npz")
    assert state["epoch"] == 2 and state["states"]["best"]["best"] is not None
    assert len(read_history(out)) == 2
    with pytest.raises(UserError, match="other settings"):
        run(cfg.replace(batch_size=16), fer_small)
    record = Record()
    run(cfg, fer_small, callbacks=[record], resume_every_s=0)
    assert record.epochs == [2, 3]
    rows = read_history(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    val_acc = [float(r["val_accuracy"]) for r in rows]
    # the best epoch is over all four epochs: the best value survived the resume
    assert rundir.read_meta(out)["best_epoch"] == int(np.argmax(val_acc)) + 1
    assert not (out / "ckpt").exists()


def test_a_run_killed_after_its_first_epoch_resumes_at_the_second(tiny_data, tmp_path):
    # the default resume_every_s, as the command line has it: state after every epoch
    cfg = TrainConfig(model="baseline", epochs=2, batch_size=32, limit=64, tensorboard=False,
                      verbose=0, out=str(tmp_path / "run"))
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tiny_data, callbacks=[Kill(1)])
    assert ResumeState.read_meta(tmp_path / "run" / "ckpt" / "resume.npz")["epoch"] == 1
    record = Record()
    run(cfg, tiny_data, callbacks=[record])
    assert record.epochs == [1]  # epoch 2 (0-based 1), not epoch 1 again
    assert [int(r["epoch"]) for r in read_history(tmp_path / "run")] == [1, 2]


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_release_is_replaced_only_with_force_and_whole(tiny_run, tiny_data, tmp_path):
    release = tmp_path / "best"
    shutil.copytree(tiny_run, release)
    (release / "README.md").write_text("# Model card: the old model\n")
    for sub in ("eval", "export"):
        (release / sub).mkdir()
        (release / sub / "old.json").write_text("{}\n")
    before = _files(release)
    cfg = TrainConfig(model="baseline", epochs=1, batch_size=32, limit=64, seed=1,
                      tensorboard=False, verbose=0, out=str(release))
    with pytest.raises(UserError, match=r"a released model .* pass --force to replace it"):
        run(cfg, tiny_data)
    assert _files(release) == before
    # a forced run that dies keeps the old release aside; resuming it completes the swap
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tiny_data, callbacks=[Kill(0)], force=True)
    aside = rundir.aside_path(release)
    assert _files(aside) == before
    run(cfg, tiny_data)
    assert not aside.exists()
    # nothing of the old release is left to describe the new model
    assert sorted(p.name for p in release.iterdir()) == [
        "config.json", "curves.png", "history.csv", "meta.json", "model.keras", "summary.json"]
    assert rundir.read_config(release).seed == 1


class BestSpy:
    def __init__(self):
        self.saves = 0

    def save(self, path):
        self.saves += 1
        with open(path, "w") as f:
            f.write("model")


def test_best_checkpoint_remembers_its_best_value_after_resume(tmp_path):
    net = BestSpy()
    ckpt = BestCheckpoint(net, tmp_path / "model.keras", "val_accuracy")
    ckpt.set_state({"best": 0.9, "best_epoch": 3, "best_logs": {"val_accuracy": 0.9}})
    ckpt.on_epoch_end(5, {"val_accuracy": 0.5})
    assert net.saves == 0 and ckpt.best == 0.9 and ckpt.best_epoch == 3
    ckpt.on_epoch_end(6, {"val_accuracy": 0.95})
    assert net.saves == 1 and ckpt.best_epoch == 6
    loss_ckpt = BestCheckpoint(net, tmp_path / "model.keras", "val_loss")
    loss_ckpt.set_state({"best": 0.2, "best_epoch": 0})
    loss_ckpt.on_epoch_end(1, {"val_loss": 0.3})
    assert net.saves == 1


def test_kill_during_checkpoint_write_keeps_previous_file(tmp_path):
    path = tmp_path / "model.keras"
    good = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    save_model_atomic(good, path)
    before = path.read_bytes()

    class Dies:
        def save(self, p):
            with open(p, "wb") as f:
                f.write(b"PK\x03\x04half a zip")
            raise KeyboardInterrupt("killed while writing")

    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(Dies(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert keras.saving.load_model(path).output_shape == (None, 2)


def test_labels_out_of_range_are_refused_before_fit(fer_small, tiny_cfg):
    bad = fer_small.select(np.arange(len(fer_small)))
    i = int(np.nonzero(bad.splits == "Training")[0][5])
    bad.labels[i] = 7
    with pytest.raises(UserError, match=r"label 7 is outside 0\.\.6") as e:
        run(tiny_cfg, bad)
    assert bad.paths[i] in str(e.value)
    bad.labels[i] = -1
    with pytest.raises(UserError, match="label -1"):
        run(tiny_cfg, bad)
    assert not (tmp := rundir.Path(tiny_cfg.out)).exists() or not any(tmp.iterdir())


def poison_loss(monkeypatch):
    """The training loop's NaNGuard sees a NaN loss at the second epoch's first batch (as after
    a diverged step)."""
    from keras_fer.train import core as loop
    from keras_fer.train.callbacks import NaNGuard

    class Poisoned(NaNGuard):
        def on_train_batch_end(self, batch, logs=None):
            if self._epoch == 1:
                logs = {**(logs or {}), "loss": float("nan")}
            super().on_train_batch_end(batch, logs)

    monkeypatch.setattr(loop, "NaNGuard", Poisoned)


class Snapshot(keras.callbacks.Callback):
    """The run directory's files as epoch ``at`` (0-based) begins."""

    def __init__(self, folder, at):
        super().__init__()
        self.folder, self.at, self.files = folder, at, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            self.files = _files(self.folder)


def test_nan_loss_stops_with_message_and_keeps_resume_state(fer_small, tiny_cfg, monkeypatch):
    cfg = tiny_cfg.replace(epochs=3)
    out = rundir.Path(cfg.out)
    snapshot = Snapshot(out, 1)
    with monkeypatch.context() as patch:
        poison_loss(patch)
        with pytest.raises(TrainingFailed, match=r"loss became nan at epoch 2, batch 1"):
            run(cfg, fer_small, callbacks=[snapshot], resume_every_s=0)
    # nothing written after the NaN: checkpoint, history and resume state are epoch 1's
    assert _files(out) == snapshot.files and "model.keras" in snapshot.files
    state = ResumeState.read_meta(out / "ckpt" / "resume.npz")
    assert state["epoch"] == 1  # the last good epoch, not deleted (Keras' BackupAndRestore trap)
    assert [int(r["epoch"]) for r in read_history(out)] == [1]
    record = Record()
    run(cfg, fer_small, callbacks=[record], resume_every_s=0)
    assert record.epochs == [1, 2]


def test_resume_continues_a_step_schedule_at_its_epochs_rate(fer_small, tiny_cfg):
    from keras_fer.train import lr_at_epoch
    from keras_fer.train.schedules import current_lr, parse_schedule

    class Rates(Record):  # the rate each epoch begins with
        def on_epoch_begin(self, epoch, logs=None):
            super().on_epoch_begin(epoch)
            self.epochs[-1] = (epoch, current_lr(self.model.optimizer))

    spec = {"name": "step", "every": 1, "factor": 0.5}
    name, settings = parse_schedule(spec)
    cfg = tiny_cfg.replace(epochs=3, schedule=spec)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, fer_small, callbacks=[Kill(2)], resume_every_s=0)
    rates = Rates()
    run(cfg, fer_small, callbacks=[rates], resume_every_s=0)
    assert rates.epochs == [(2, pytest.approx(lr_at_epoch(name, settings, 5e-3, 2), rel=1e-6))]
    # history's rate: the optimizer's at each epoch's end (the next epoch's; the last epoch's
    # after the last)
    lrs = [float(r["lr"]) for r in read_history(rundir.Path(cfg.out))]
    assert lrs == pytest.approx([lr_at_epoch(name, settings, 5e-3, e) for e in (1, 2, 2)],
                                rel=1e-6)


def test_cli_nan_loss_is_one_error_line_and_exit_1(prepared, tiny_model_file, tmp_path, capsys,
                                                  monkeypatch):
    from keras_fer.train.cli import main

    poison_loss(monkeypatch)
    out = tmp_path / "run"
    code = main(["--data", str(prepared), "--model", tiny_model_file, "--epochs", "3",
                 "--limit", "70", "--batch-size", "32", "--out", str(out), "--no-tensorboard",
                 "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"error: {out}: loss became nan at epoch 2, batch 1: training stopped (lower the learning "
        "rate or check the data); the last good epoch is kept for resuming "
        f"({out / 'ckpt' / 'resume.npz'})"]
    assert ResumeState.read_meta(out / "ckpt" / "resume.npz")["epoch"] == 1


def test_kfold_reports_each_fold_and_mean_std(fer_small, tiny_cfg):
    out = run(tiny_cfg.replace(folds=2, epochs=1), fer_small)
    summary = json.loads((out / "summary.json").read_text())
    accs = [f["best"]["val_accuracy"] for f in summary["folds"]]
    assert len(accs) == 2
    assert summary["mean"]["val_accuracy"] == pytest.approx(np.mean(accs))
    assert summary["std"]["val_accuracy"] == pytest.approx(np.std(accs))
    for k in (1, 2):
        assert rundir.read_meta(out / f"fold{k}")["classes"] == list(fer_small.classes)
        s = json.loads((out / f"fold{k}" / "summary.json").read_text())
        assert s["train_images"] + s["val_images"] == 70  # the folds partition --limit 70


def test_a_resumed_kfold_run_keeps_its_finished_folds(fer_small, tiny_cfg):
    cfg = tiny_cfg.replace(folds=2, epochs=1)
    out = run(cfg, fer_small)
    fold1 = _files(out / "fold1")
    # as if killed while training fold 2: fold 1 finished, no fold 2, no folds' summary
    shutil.rmtree(out / "fold2")
    (out / "summary.json").unlink()
    (out / "config.json").unlink()
    record = Record()
    run(cfg, fer_small, callbacks=[record])
    assert record.epochs == [0]  # fold 2's one epoch only
    assert _files(out / "fold1") == fold1
    assert [f["fold"] for f in json.loads((out / "summary.json").read_text())["folds"]] == [1, 2]
    shutil.rmtree(out / "fold2")
    (out / "summary.json").unlink()
    (out / "config.json").unlink()
    with pytest.raises(UserError, match="fold1: a finished fold of other settings"):
        run(cfg.replace(batch_size=16), fer_small)


def test_a_setting_added_later_at_its_default_does_not_orphan_a_resume(fer_small, tiny_cfg):
    # a run interrupted under an older TrainConfig that had no "ema" key resumes
    from keras_fer.train.core import RESUME_FILE

    cfg = tiny_cfg.replace(epochs=3)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, fer_small, callbacks=[Kill(1)])
    path = rundir.check_run_dir(cfg.out) / RESUME_FILE
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    from keras_fer.config import RESUME_FREE

    # what the older version wrote: every setting but the free ones, and no "ema" yet
    old = {k: v for k, v in cfg.to_dict().items() if k not in RESUME_FREE and k != "ema"}
    meta["fingerprint"] = json.dumps(old)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    record = Record()
    run(cfg, fer_small, callbacks=[record])
    assert record.epochs == [1, 2]


def test_a_balanced_sampler_run_validates_on_its_capped_public_test(fer_small, tiny_cfg):
    # the sampler's path feeds fit a Sequence and the validation images as arrays
    out = run(tiny_cfg.replace(balanced_sampler=True, epochs=1), fer_small)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["val_images"] == 14 and len(read_history(out)) == 1  # 70 x val_fraction 0.2
    assert math.isfinite(float(read_history(out)[0]["val_loss"]))


def test_the_training_step_is_traced_once(tiny_data, tiny_cfg, monkeypatch):
    """The optimizer (its momentum and EMA slots) is built before ``fit``: Keras' TensorFlow
    trainer builds it inside the first trace otherwise, and a ``tf.function`` that creates
    variables is traced twice (2.6 s more for recipes/cpu.json's step on this CPU)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function tracing: the TensorFlow backend")
    from keras_fer.train import TrainingModel

    traces, step = [], TrainingModel.train_step

    def counted(self, data):  # runs once per trace: inside the tf.function it is a graph
        traces.append(1)
        return step(self, data)

    monkeypatch.setattr(TrainingModel, "train_step", counted)
    cfg = tiny_cfg.replace(optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
                           ema=0.9)
    run(cfg, tiny_data)
    assert len(traces) == 1
