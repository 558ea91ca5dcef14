"""Fixtures: the tiny fitted model of tests/export/fake_run.py in a fake run directory."""
import importlib.util
import sys
from pathlib import Path

import pytest

NAME = "keras_fer_tests_fake_run"
if NAME not in sys.modules:  # tests are not a package under --import-mode=importlib
    _spec = importlib.util.spec_from_file_location(
        NAME, Path(__file__).parents[1] / "export" / "fake_run.py")
    sys.modules[NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[NAME])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return sys.modules[NAME].tiny_run_dir(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def model(run_dir):
    from keras_fer import rundir

    return rundir.load_model(run_dir)
