"""Quiet start: no TensorFlow start-up lines on stderr unless --verbose."""
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONEDNN = ("I0000 00:00:1796141185.201859   29637 port.cc:153] oneDNN custom operations are on. "
          "You may see slightly different numerical results.")
ABSL = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def test_keep_drops_the_start_up_lines_only():
    from keras_fer.quiet import keep

    error = "E0000 00:00:1796141214.552131   29762 cuda_platform.cc:52] failed call to cuInit"
    text = f"{ABSL}\n{ONEDNN}\nreal warning: x\n{error}\n"
    assert keep(text) == f"real warning: x\n{error}\n"


def test_wanted_unless_verbose_or_set_or_imported():
    from keras_fer.quiet import wanted

    assert wanted(["x.png"], {}, {})
    assert not wanted(["x.png", "--verbose"], {}, {})
    assert not wanted(["--verbose=2"], {}, {})
    assert not wanted([], {"TF_CPP_MIN_LOG_LEVEL": "0"}, {})
    assert not wanted([], {}, {"tensorflow": object()})
    assert wanted([], {"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_FER_QUIET": "1"}, {})  # our child


def test_a_cli_that_imports_tensorflow_writes_nothing_to_stderr(tmp_path):
    code = "import tensorflow as tf, keras; print(int(tf.constant(2) + 1))"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(KERAS_BACKEND="tensorflow", PYTHONPATH=str(REPO))
    runs = {flag: subprocess.run([sys.executable, "-c", f"import keras_fer; {code}", *flag],
                                 cwd=tmp_path, env=env, capture_output=True, text=True,
                                 timeout=300) for flag in ((), ("--verbose",))}
    quiet, verbose = runs[()], runs[("--verbose",)]
    assert quiet.returncode == verbose.returncode == 0
    assert quiet.stdout == verbose.stdout == "3\n"
    assert quiet.stderr == ""
    if sys.platform == "linux" and platform.machine() == "x86_64":  # TensorFlow says oneDNN is on
        assert "oneDNN custom operations are on" in verbose.stderr
