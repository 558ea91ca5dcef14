"""Ensembles: one model whose softmax is the mean of its members' (NumPy reference), members of
different input sizes, a .keras round trip, the run directory and the CLI's refusals."""
import subprocess
import sys

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


def test_cli_missing_run_is_one_line_exit_2(members, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "keras_fer.ensemble", str(members[0]),
                           str(tmp_path / "nope"), "--out", str(tmp_path / "e")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "nope" in errors[0]
