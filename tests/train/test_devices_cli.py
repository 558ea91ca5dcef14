"""The training command asked for 2 devices (``--devices 2``) on TensorFlow, which has one CPU
device unless a program makes logical ones: one line, exit 2, nothing written. The command's
data-parallel training on JAX's 2 virtual CPU devices is tests/test_gpu_session.py's (the GPU
call's ``keras_fer.train --devices all``, checked in its log and meta.json); a JAX run of this
file repeated it, 12 CPU-seconds of the JAX stage."""
import subprocess
import sys

from tests.train import test_devices as devices

_env = devices._env
data_dir, model_file = devices.data_dir, devices.model_file  # its module fixtures, made here too


def test_the_cli_on_tensorflow_says_there_are_not_two_devices(data_dir, model_file, tmp_path):
    out = tmp_path / "cli"
    argv = ["-m", "keras_fer.train", "--model", str(model_file), "--data", str(data_dir),
            "--epochs", "1", "--batch-size", "16", "--devices", "2", "--out", str(out),
            "--no-tensorboard", "--verbose", "1"]
    proc = subprocess.run([sys.executable, *argv], env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("error")] == [
        "error: devices 2: the tensorflow backend sees 1 device(s) here (/device:CPU:0)"]
    assert proc.stderr.strip().splitlines()[-1].startswith("error: devices 2")
    assert not out.exists()
