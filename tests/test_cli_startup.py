"""Every command answers ``--help`` and a bad option without importing Keras or its backends: a
typo costs a parser's time, not TensorFlow's start (the packages re-export their names lazily and
the CLIs import Keras after ``parse_args``)."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("keras", "tensorflow", "jax", "keras_tuner")

# Runs each module as ``python -m`` does, twice (--help, --bogus), in one process: what a command
# imports stays in sys.modules, so the first command that imports a heavy module is the one named.
CHILD = """
import contextlib, io, json, runpy, sys
modules, heavy, report = sys.argv[1:], {heavy!r}, {{}}
for module in modules:
    runs = []
    for option in ("--help", "--bogus"):
        sys.argv = [module, option]
        out, err, code = io.StringIO(), io.StringIO(), None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            except SystemExit as e:
                code = e.code
        runs.append([code, out.getvalue(), err.getvalue()])
    report[module] = {{"runs": runs, "imported": [m for m in heavy if m in sys.modules]}}
print(json.dumps(report))
"""


def commands():
    packages = sorted(p.parent.name for p in (REPO / "keras_fer").glob("*/__main__.py"))
    return ["keras_fer"] + [f"keras_fer.{p}" for p in packages] + ["tuning"]


def test_help_and_a_bad_option_do_not_import_keras(tmp_path):
    modules = commands()
    assert {"keras_fer.models", "keras_fer.augment", "keras_fer.bench", "keras_fer.train",
            "tuning"} <= set(modules)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CHILD.format(heavy=HEAVY), *modules],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert list(report) == modules
    for module, got in report.items():
        (help_code, help_out, _), (bad_code, bad_out, bad_err) = got["runs"]
        assert help_code == 0 and help_out.startswith("usage: "), module
        assert bad_code == 2 and bad_out == "", module
        assert len(bad_err.splitlines()) == 1 and bad_err.startswith("error: "), (module, bad_err)
    assert {m: got["imported"] for m, got in report.items() if got["imported"]} == {}
