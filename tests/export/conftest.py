"""Fixtures: a tiny fitted model in a fake run directory (see fake_run.py)."""
import importlib.util
import sys
from pathlib import Path

import pytest


def load_fake_run():
    """tests/export/fake_run.py as a module (tests are not a package under importlib mode)."""
    name = "keras_fer_tests_fake_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_run.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


load_fake_run()  # importable by name from here on (the test modules import it)


@pytest.fixture(scope="session")
def fake():
    return load_fake_run()


@pytest.fixture(scope="module")
def run_dir(fake, tmp_path_factory):
    return fake.tiny_run_dir(tmp_path_factory.mktemp("run"))
