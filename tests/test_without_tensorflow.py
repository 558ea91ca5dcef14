"""The GPU machine has JAX but no TensorFlow: what needs TensorFlow (release/export) says so in
one line. Training, evaluation and the benchmark without TensorFlow: tests/test_gpu_session.py
runs them through tests/no_tensorflow.py."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(*args, cwd):
    env = dict(os.environ, KERAS_BACKEND="jax")
    return subprocess.run([sys.executable, str(HERE / "no_tensorflow.py"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def test_blocker_really_hides_tensorflow(tmp_path):
    proc = _run("tensorflow", cwd=tmp_path)  # run the module "tensorflow": it cannot be found
    assert proc.returncode == 1 and "No module named 'tensorflow'" in proc.stderr


def test_release_without_tensorflow_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with zipfile.ZipFile(run / "model.keras", "w") as z:  # release stops before it reads the model
        z.writestr("config.json", "{}")
    (run / "meta.json").write_text("{}")  # a finished run (an unfinished one is refused first)
    proc = _run("keras_fer.release", str(run), "--out", str(tmp_path / "best"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: keras_fer.release needs TensorFlow, which is not installed here (the run "
        "directory is backend-independent: run it on a machine with TensorFlow)")
    assert not (tmp_path / "best").exists()
