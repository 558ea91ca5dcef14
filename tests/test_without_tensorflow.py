"""The GPU machine has JAX but no TensorFlow: training (mixed precision, full augmentation),
evaluation and the benchmark must run there, and what needs TensorFlow (release/export) must
say so in one line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _run(*args, cwd):
    env = dict(os.environ, KERAS_BACKEND="jax")
    return subprocess.run([sys.executable, str(HERE / "no_tensorflow.py"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def data_dir(fer_small, tmp_path_factory):
    from keras_fer.data import save_npz

    folder = tmp_path_factory.mktemp("notf_data")
    save_npz(fer_small, folder / "fer2013.npz")
    return folder


def test_blocker_really_hides_tensorflow(tmp_path):
    proc = _run("tensorflow", cwd=tmp_path)  # run the module "tensorflow": it cannot be found
    assert proc.returncode == 1 and "No module named 'tensorflow'" in proc.stderr


def test_train_evaluate_without_tensorflow(data_dir, tmp_path):
    run = tmp_path / "run"
    augment = json.dumps({"flip": True, "crop": 44, "affine": {"rotation": 10}, "erasing": 0.5})
    proc = _run("keras_fer.train", "--model", "baseline", "--data", str(data_dir), "--epochs", "2",
                "--mixed-precision", "--augment", augment, "--out", str(run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tensorflow/tensorboard not installed" in proc.stdout
    meta = json.loads((run / "meta.json").read_text())
    assert meta["backend"] == "jax" and meta["best_epoch"] in (1, 2)
    proc = _run("keras_fer.evaluate", str(run), "--data", str(data_dir), "--split",
                "PublicTest,PrivateTest", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["splits"]["PrivateTest"]["n"] == 280
    proc = _run("keras_fer.release", str(run), "--out", str(tmp_path / "best"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: keras_fer.release needs TensorFlow, which is not installed here (the run "
        "directory is backend-independent: run it on a machine with TensorFlow)")
    assert not (tmp_path / "best").exists()
