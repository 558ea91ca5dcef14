"""Ensembles: one model whose softmax is the mean of its members' (NumPy reference), members of
different input sizes, a .keras round trip, the run directory and the CLI's refusals."""
import re

import keras
import numpy as np
import pytest

from keras_fer import rundir
from keras_fer.ensemble import write_ensemble
from keras_fer.errors import UserError
from tests.export.conftest import load_fake_run

fake = load_fake_run()


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    return [fake.tiny_run_dir(root / "a", input_size=48, seed=0, epochs=1),
            fake.tiny_run_dir(root / "b", input_size=44, seed=1, epochs=1),
            fake.tiny_run_dir(root / "c", input_size=48, seed=2, epochs=0)]


def test_ensemble_averages_member_probabilities(members, tmp_path):
    out = write_ensemble(members, tmp_path / "ens")
    images, _ = fake.synthetic_faces(16, seed=7)
    x = images[..., None].astype("float32")
    want = []
    for d in members:
        m = rundir.load_model(d)
        size = m.input_shape[1]
        off = (48 - size) // 2
        want.append(softmax(keras.ops.convert_to_numpy(m(x[:, off:off + size, off:off + size]))))
    want = np.mean(want, axis=0)
    ens = rundir.load_model(out)  # the saved file, not the object in memory
    got = softmax(keras.ops.convert_to_numpy(ens(x)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert ens.input_shape == (None, 48, 48, 1) and ens.get_layer("predictions").output is ens.output
    meta = rundir.read_meta(out)
    assert meta["classes"] == fake.CLASSES and meta["ensemble"] == [str(d) for d in members]
    assert (meta["keras"], meta["backend"]) == (keras.version(), keras.backend.backend())


def test_refusals(members, tmp_path):
    with pytest.raises(UserError, match="at least 2"):
        write_ensemble(members[:1], tmp_path / "one")
    with pytest.raises(UserError, match="named twice"):
        write_ensemble([members[0], members[0]], tmp_path / "twice")
    other = fake.tiny_run_dir(tmp_path / "other", classes=["a", "b"], epochs=0)
    with pytest.raises(UserError, match="classes"):
        write_ensemble([members[0], other], tmp_path / "mixed")
    out = write_ensemble(members[:2], tmp_path / "ens")
    before = (out / "model.keras").read_bytes()
    with pytest.raises(UserError, match="--force"):
        write_ensemble(members, out)
    assert (out / "model.keras").read_bytes() == before
    write_ensemble(members, out, force=True)
    assert len(rundir.read_meta(out)["ensemble"]) == 3


def test_the_members_machines_and_training_time_are_recorded(members, tmp_path):
    import shutil

    copies = [shutil.copytree(d, tmp_path / f"m{i}") for i, d in enumerate(members[:2])]
    for d, device, seconds in zip(copies, ("cpu A", "cpu B"), (60.0, 90.5)):
        rundir.write_meta(d, {**rundir.read_meta(d), "device": device, "train_seconds": seconds})
    meta = rundir.read_meta(write_ensemble(copies, tmp_path / "ens"))
    assert (meta["device"], meta["train_seconds"]) == ("cpu A; cpu B", 150.5)


def test_cli_missing_run_is_one_line_exit_2(members, tmp_path, capsys):
    # in this process: `python -m keras_fer.ensemble`'s own exit 2 is in tests/test_bad_inputs.py
    from keras_fer.ensemble.cli import main

    assert main([str(members[0]), str(tmp_path / "nope"), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "nope" in errors[0]


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


ENSEMBLE_FILES = ["meta.json", "model.keras", "summary.json"]


def test_force_replaces_a_release_or_a_run_whole_never_in_part(members, tmp_path):
    import shutil

    release = shutil.copytree(members[0], tmp_path / "best")
    for name, text in (("README.md", "# Model card: old\n"), ("release.json", "{}\n"),
                       ("eval/report.json", "{}\n"), ("export/savedmodel/saved_model.pb", "old"),
                       ("export/model_int8.tflite", "old"), ("history.csv", "epoch\n")):
        (release / name).parent.mkdir(parents=True, exist_ok=True)
        (release / name).write_text(text)
    run = shutil.copytree(members[1], tmp_path / "run")
    (run / "config.json").write_text("{}\n")
    for out in (release, run):
        before = {f: (out / f).read_bytes() for f in _files(out)}
        with pytest.raises(UserError, match="is there; pass --force to replace it"):
            write_ensemble(members[:2], out)
        assert {f: (out / f).read_bytes() for f in _files(out)} == before
        write_ensemble(members[:2], out, force=True)
        assert _files(out) == ENSEMBLE_FILES  # the old card, reports and export are gone
        assert rundir.read_meta(out)["ensemble"] == [str(d) for d in members[:2]]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_never_into_other_files_a_run_a_release_or_a_member(members, tmp_path):
    import shutil

    files = tmp_path / "mine"
    files.mkdir()
    (files / "summary.txt").write_text("mine\n")
    release = shutil.copytree(members[0], tmp_path / "best")
    (release / "release.json").write_text("{}\n")
    for out, why in ((files, "not a run directory (it holds summary.txt, ...)"),
                     (release / "ens", f"inside the run or release {release}"),
                     (members[1] / "ens", f"inside the run or release {members[1]}"),
                     (members[0], f"holds the member {members[0]}")):
        with pytest.raises(UserError, match=re.escape(f"{out}: {why}")):
            write_ensemble(members[:2], out, force=True)
    assert _files(files) == ["summary.txt"] and not (release / "ens").exists()
    assert not (members[1] / "ens").exists() and "ensemble" not in rundir.read_meta(members[0])


def test_a_full_disk_keeps_the_old_folder_and_leaves_no_staging(members, tmp_path, monkeypatch):
    import errno
    import shutil

    import keras_fer.train.callbacks as callbacks

    run = shutil.copytree(members[1], tmp_path / "run")
    before = {f: (run / f).read_bytes() for f in _files(run)}

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(callbacks, "save_model_atomic", full)
    with pytest.raises(UserError, match=re.escape(f"{run}: no space left on the device")):
        write_ensemble(members[:2], run, force=True)
    assert {f: (run / f).read_bytes() for f in _files(run)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
