"""``rundir.claim_out``: which output folders a run may write into, and when only with force."""
import json

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
