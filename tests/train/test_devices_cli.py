"""The training command on 2 devices (``--devices 2``): JAX's virtual CPU devices train
data-parallel; TensorFlow, with one CPU device, says so in one line. Marked ``backends``
(`make test` runs them on TensorFlow, then on JAX); apart from tests/train/test_devices.py so
that the two share the JAX stage's workers."""
import os
import subprocess
import sys

import keras
import pytest

from keras_fer import rundir
from tests.train import test_devices as devices

_env = devices._env
data_dir, model_file = devices.data_dir, devices.model_file  # its module fixtures, made here too

pytestmark = pytest.mark.backends


def test_the_cli_trains_on_two_devices_or_says_there_are_not_two(data_dir, model_file, tmp_path):
    out = tmp_path / "cli"
    argv = ["-m", "keras_fer.train", "--model", str(model_file), "--data", str(data_dir),
            "--epochs", "1", "--batch-size", "16", "--devices", "2", "--out", str(out),
            "--no-tensorboard", "--verbose", "1"]
    env = _env(XLA_FLAGS=f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True,
                          timeout=600)
    if keras.backend.backend() == "jax":
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "data-parallel over 2 devices (keras.distribution.DataParallel)" in proc.stdout
        assert rundir.read_meta(out)["distribution"] == {
            "kind": "data_parallel", "engine": "keras.distribution.DataParallel", "devices": 2,
            "processes": 1}
    else:  # TensorFlow has one CPU device unless a program makes logical ones
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert [ln for ln in proc.stderr.splitlines() if ln.startswith("error")] == [
            "error: devices 2: the tensorflow backend sees 1 device(s) here (/device:CPU:0)"]
        assert proc.stderr.strip().splitlines()[-1].startswith("error: devices 2")
        assert not out.exists()
