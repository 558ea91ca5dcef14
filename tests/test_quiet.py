"""Quiet start: no TensorFlow start-up lines on stderr unless --verbose."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from keras_fer.devices import cpu_flags

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


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_FER_QUIET")}
    env.update(KERAS_BACKEND="tensorflow", PYTHONPATH=str(REPO))
    return env


# A CLI: main wrapped in cli_main, importing TensorFlow only once it runs (as every CLI does).
CLI = """
import sys
from keras_fer.errors import cli_main

@cli_main
def main(argv=None):
    import tensorflow as tf, keras
    print(int(tf.constant(2) + 1))

sys.exit(main())
"""


def test_a_cli_that_imports_tensorflow_writes_nothing_to_stderr(tmp_path):
    runs = {flag: subprocess.run([sys.executable, "-c", CLI, *flag], cwd=tmp_path, env=_env(),
                                 capture_output=True, text=True, timeout=300)
            for flag in ((), ("--verbose",))}
    quiet, verbose = runs[()], runs[("--verbose",)]
    assert quiet.returncode == verbose.returncode == 0, (quiet.stderr, verbose.stderr)
    assert quiet.stdout == verbose.stdout == "3\n"
    assert quiet.stderr == ""
    assert ABSL in verbose.stderr  # TensorFlow's start-up lines, shown with --verbose
    # TensorFlow turns oneDNN on by default for x86 CPUs with these (not on a Zen 2, say)
    if sys.platform == "linux" and platform.machine() == "x86_64" and \
            cpu_flags() & {"avx512_vnni", "avx512_bf16", "amx_bf16", "avx_vnni"}:
        assert "oneDNN custom operations are on" in verbose.stderr


# What an app that imports keras_fer keeps: its environment, import hooks and stderr descriptor.
IMPORT = """
import json, os, sys
before = (dict(os.environ), list(sys.meta_path), os.fstat(2))
import keras_fer, keras_fer.errors, keras_fer.predict
after = (dict(os.environ), list(sys.meta_path), os.fstat(2))
os.write(2, b"still stderr\\n")
print(json.dumps({"environ": before[0] == after[0], "meta_path": before[1] == after[1],
                  "fd2": (before[2].st_dev, before[2].st_ino) == (after[2].st_dev, after[2].st_ino),
                  "new_env": sorted(set(after[0]) - set(before[0]))}))
"""


def test_import_keras_fer_has_no_side_effects(tmp_path):
    """A fresh interpreter: ``import keras_fer`` leaves os.environ, sys.meta_path and fd 2 as
    they were (it installed an import hook, set TF_CPP_MIN_LOG_LEVEL and redirected fd 2)."""
    proc = subprocess.run([sys.executable, "-c", IMPORT], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"environ": True, "meta_path": True, "fd2": True,
                                       "new_env": []}
    assert proc.stderr == "still stderr\n"
