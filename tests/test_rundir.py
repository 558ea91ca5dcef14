"""``rundir.claim_out``: which output folders a run may write into, and when only with force."""
import json
import math

import pytest

from keras_fer import rundir
from keras_fer.config import TrainConfig
from keras_fer.errors import UserError


def _folder(path, **files):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (path / name.replace("__", "/")).write_text(text)
    return path


def test_states_of_an_output_folder(tmp_path):
    cfg = json.dumps(TrainConfig().to_dict())
    assert rundir.out_state(tmp_path / "absent") == "new"
    assert rundir.out_state(_folder(tmp_path / "empty")) == "new"
    assert rundir.out_state(_folder(tmp_path / "started", **{"config.json": cfg})) == "unfinished"
    assert rundir.out_state(_folder(tmp_path / "resumable", **{
        "config.json": cfg, "summary.json": "{}", "ckpt__resume.npz": ""})) == "unfinished"
    assert rundir.out_state(_folder(tmp_path / "folds", **{"fold1__config.json": cfg})) == "unfinished"
    assert rundir.out_state(_folder(tmp_path / "done", **{"summary.json": "{}"})) == "finished"
    assert rundir.out_state(_folder(tmp_path / "best", **{
        "model.keras": "", "README.md": "# Model card: a release from before release.json\n"})) == "release"
    # a run directory with some other README is a finished run, not a release
    assert rundir.out_state(_folder(tmp_path / "notes", **{
        "model.keras": "", "README.md": "notes\n", "summary.json": "{}"})) == "finished"
    assert rundir.out_state(_folder(tmp_path / "marked", **{"release.json": "{}"})) == "release"
    assert rundir.out_state(_folder(tmp_path / "data", **{"fer2013.npz": ""})) == "other"


def test_claim_out_resumes_the_same_run_and_refuses_the_rest(tmp_path):
    cfg = TrainConfig(epochs=3)
    started = _folder(tmp_path / "started", **{"config.json": json.dumps(cfg.to_dict())})
    # epochs may change on resumption; the batch size may not
    assert rundir.claim_out(started, config=cfg.replace(epochs=9).to_dict()) is None
    with pytest.raises(UserError, match="an unfinished run of other settings is there; pass --force"):
        rundir.claim_out(started, config=cfg.replace(batch_size=8).to_dict())
    data = _folder(tmp_path / "data", **{"fer2013.npz": "x"})
    with pytest.raises(UserError, match=r"data: not a run directory \(it holds fer2013.npz"):
        rundir.claim_out(data, force=True)  # never, not even with force
    done = _folder(tmp_path / "done", **{"summary.json": "{}"})
    assert rundir.claim_out(done, force=True, dry_run=True) is None and done.is_dir()
    aside = rundir.claim_out(done, force=True)
    assert aside == rundir.aside_path(done) and (aside / "summary.json").is_file()
    assert not done.exists()
    rundir.release_aside(done)
    assert not aside.exists()


def test_history_csv_round_trips_through_its_one_writer_and_reader(tmp_path):
    from keras_fer.rundir import HISTORY_FILE, read_history, write_history

    rows = [{"epoch": 1, "loss": 2.5, "lr": 0.05},
            {"epoch": 2, "loss": 1.25, "val_loss": 1.5, "lr": 0.025}]  # val_loss from epoch 2
    write_history(tmp_path / HISTORY_FILE, rows)
    assert (tmp_path / HISTORY_FILE).read_text() == (
        "epoch,loss,lr,val_loss\n1,2.5,0.05,\n2,1.25,0.025,1.5\n")
    got = read_history(tmp_path)  # a run directory, or the file itself
    assert got == read_history(tmp_path / HISTORY_FILE)
    assert list(got) == ["epoch", "loss", "lr", "val_loss"]
    assert got["loss"] == [2.5, 1.25] and got["epoch"] == [1.0, 2.0]
    assert math.isnan(got["val_loss"][0]) and got["val_loss"][1] == 1.5
    write_history(tmp_path / "empty.csv", [])
    assert read_history(tmp_path / "empty.csv") == {}
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no training history"):
        read_history(tmp_path / "nowhere.csv")


def test_the_one_curves_plotter_draws_train_solid_validation_dashed():
    from keras_fer.visualize import plots

    history = {"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0],
               "accuracy": [0.2, 0.4, 0.5], "macro_f1": [math.nan] * 3, "lr": [0.1] * 3}
    fig = plots.curves({"a": history, "b": {"epoch": [1], "loss": [2.0]}}, "t",
                       metrics=("loss", "accuracy", "macro_f1"))
    loss, accuracy = fig.axes  # macro_f1 has no finite value: no panel
    assert [(ln.get_label(), ln.get_linestyle(), list(ln.get_ydata())) for ln in loss.lines] == [
        ("a train", "-", [3.0, 2.0, 1.0]), ("a val", "--", [3.5, 2.5, 2.0]), ("b train", "-", [2.0])]
    assert [ln.get_label() for ln in accuracy.lines] == ["a train"]
    plots.plt.close(fig)


def test_a_second_training_into_a_folder_is_refused_and_a_dead_ones_lock_is_not(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from keras_fer import rundir; "
         f"rundir.claim_out({str(out)!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(UserError, match=rf"run: in use by another process \(pid {holder.pid}, "):
            rundir.claim_out(out)
        assert rundir.claim_out(out, dry_run=True) is None  # the CLI's early check takes no lock
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert rundir.lock_path(out).is_file()  # left by the killed process: it does not block
    assert rundir.claim_out(out) is None
    assert rundir.lock_path(out).read_text() == f"{os.getpid()}\n"
    rundir.release_aside(out)
    assert not rundir.lock_path(out).exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04truncated", bytes(range(256)) * 4])
def test_a_corrupt_resume_state_is_named_and_force_starts_over(tmp_path, content):
    cfg = TrainConfig(epochs=3)
    run = _folder(tmp_path / "run", **{"config.json": json.dumps(cfg.to_dict())})
    (run / "ckpt").mkdir()
    (run / "ckpt" / "resume.npz").write_bytes(content)
    with pytest.raises(UserError, match=r"ckpt/resume.npz: corrupt resume state .*pass --force "
                                        "to start the run over"):
        rundir.claim_out(run, config=cfg.to_dict())
    assert (run / "ckpt" / "resume.npz").read_bytes() == content
    aside = rundir.claim_out(run, force=True, config=cfg.to_dict())
    assert aside == rundir.aside_path(run) and not run.exists()
    rundir.release_aside(run)


def _killed_run(path, outputs, drop_classes):
    """A run stopped before its end: its best checkpoint and config.json, no meta.json."""
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Flatten(name="features")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(outputs, name="predictions")(x))
    path.mkdir(parents=True)
    model.save(path / rundir.MODEL_FILE)
    cfg = TrainConfig(drop_classes=drop_classes, out=str(path))
    (path / rundir.CONFIG_FILE).write_text(json.dumps(cfg.to_dict()))
    return path


def test_a_run_without_meta_takes_its_classes_from_its_config(tmp_path):
    import keras_fer

    run = _killed_run(tmp_path / "killed", 6, ["disgust"])
    six = ["angry", "fear", "happy", "sad", "surprise", "neutral"]
    assert rundir.class_names(run) == six
    assert keras_fer.load(run, detector=None).classes == six  # so predict and evaluate too
    # 7 outputs with disgust dropped: the data had contempt, labelled after the seven
    seven = _killed_run(tmp_path / "contempt", 7, ["disgust"])
    assert rundir.class_names(seven) == six + ["contempt"]
    plain = _killed_run(tmp_path / "plain", 7, [])
    assert rundir.class_names(plain) == list(keras_fer.EMOTIONS)


def test_a_run_without_meta_whose_outputs_fit_no_classes_is_refused(tmp_path):
    run = _killed_run(tmp_path / "killed", 7, ["disgust", "fear"])
    with pytest.raises(UserError, match="no meta.json .* model's 7 outputs fit none"):
        rundir.class_names(run)
