"""Shared fixtures. The suite runs on TensorFlow by default; `make test` runs the tests marked
`backends` a second time with KERAS_BACKEND=jax, without TensorFlow (as on the GPU machine).

The modules (or tests) in E2E run whole commands, scripts, searches and multi-device or multi-process
trainings in subprocesses; they are marked `e2e`, left out of `make test` (the quick suite) and
run by `make test-e2e`, CI's second stage."""
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# XLA (JAX here and in the subprocesses, which inherit it) compiles at LLVM optimization level
# 0: the tests' tiny networks compile far more than they compute (measured: the 2-device JAX
# worker of tests/train/test_devices.py, 48.6 -> 37.0 CPU seconds, its losses equal to 3e-7).
# Tests that add a flag append it (``xla_flags``).
XLA_TEST_FLAGS = "--xla_backend_optimization_level=0"
if XLA_TEST_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(filter(None, (os.environ.get("XLA_FLAGS"), XLA_TEST_FLAGS)))

import pytest  # noqa: E402

# The JAX stage runs as on the GPU machine, which has no TensorFlow: a JAX path that imports it
# fails here. (keras.utils.set_random_seed imported it in every training only to seed it: the
# stage took 74 s instead of 80.) Subprocesses, which do not inherit this, still find it.
if os.environ["KERAS_BACKEND"] == "jax":
    import runpy  # noqa: E402

    runpy.run_path(str(Path(__file__).with_name("no_tensorflow.py")))["hide_tensorflow"]()

REPO = Path(__file__).resolve().parents[1]
E2E = {
    "tests/test_gpu_session.py",               # the GPU call's script, on JAX, end to end
    "tests/test_package.py",                   # builds the wheel and installs it alone
    "tests/train/test_devices.py",             # 2 devices and 2 processes against 1
    "tests/train/test_devices_cli.py",         # the command asked for 2 devices
    "tests/tuning/test_devices.py",            # a search on 2 devices
    "tests/tuning/test_distributed.py",        # a chief and two worker processes
    "tests/tuning/test_efficient_cli.py",      # `python -m tuning` of the default space
    "tests/tuning/test_search.py",             # searches: resume, budget cut, release
    "tests/experiments/test_shipped_smoke.py",  # every shipped study's runs built, one run
    # the shipped releases evaluated on the whole real PrivateTest (3,589 faces each)
    "tests/release/test_shipped_release.py::test_evaluating_the_release_reproduces_its_report_and_card",
    "tests/release/test_release.py",           # whole releases: evaluation, export, card
    # whole commands in a subprocess that starts TensorFlow (the others fail before it)
    "tests/test_quiet.py::test_a_cli_that_imports_tensorflow_writes_nothing_to_stderr",
    "tests/test_bad_inputs.py::test_bad_input_is_one_line_exit_2_and_changes_nothing"
    "[predict-video-cut-short]",
    # three exports (TFLite's converter) to show what a second one keeps
    "tests/export/test_export_safety.py::"
    "test_tflite_only_keeps_an_existing_savedmodel_and_parity_describes_the_folder",
}

# The longest modules first (seconds measured on the 2-core machine, 2026-12-05), so that the
# pytest-xdist workers, which take one module at a time in this order (--no-loadscope-reorder;
# xdist's own order is by number of tests), never start a long one last and idle beside it.
LONGEST_FIRST = (
    "tests/test_gpu_session.py",                # 98 s
    "tests/train/test_devices.py",              # TensorFlow 37 s, JAX 107 s
    "tests/tuning/test_search.py",              # 66 s
    "tests/test_bad_inputs.py",                 # 56 s
    "tests/experiments/test_shipped_smoke.py",  # 55 s
    "tests/release/test_shipped_release.py",    # 52 s
    "tests/release/test_release.py",            # 44 s
    "tests/train/test_train.py",                # 40 s
    "tests/train/test_parts.py",                # JAX 30 s
    "tests/models/test_precision.py",           # JAX 25 s
    "tests/train/test_ema.py",                  # 31 s
    "tests/export/test_export.py",              # 30 s
    "tests/tuning/test_efficient_cli.py",       # 29 s
    "tests/tuning/test_devices.py",             # 27 s
    "tests/export/test_export_safety.py",       # 24 s
    "tests/models/test_zoo.py",                 # 23 s
)

FER_ZIP = Path(os.environ.get("FER2013_ZIP", REPO.parent / "shared" / "datasets" / "fer2013.zip"))


def pytest_ignore_collect(collection_path, config):
    """Under the JAX stage's ``-m backends...`` a test module without the mark has nothing to
    run: it is not imported (each worker saved some 5 s of collection)."""
    markexpr = config.getoption("markexpr")
    backends_only = markexpr == "backends" or markexpr.startswith("backends and ")
    if backends_only and collection_path.is_file() and collection_path.name.startswith("test_") \
            and collection_path.suffix == ".py":
        return "mark.backends" not in collection_path.read_text()
    return None


def pytest_collection_modifyitems(config, items):
    order = {path: k for k, path in enumerate(LONGEST_FIRST)}
    for item in items:
        path = _path(item)
        if path in E2E or f"{path}::{item.originalname}" in E2E or f"{path}::{item.name}" in E2E:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: order.get(_path(item), len(order)))  # stable: modules stay whole


def _path(item) -> str:
    return Path(item.fspath).relative_to(REPO).as_posix()


def require_data_set(path, shared, ci) -> Path:
    """``path`` when it is a file. Without it: skip, except under CI (``ci``: the CI environment
    variable, "true" or "1") where the ``shared`` folder exists: there the data set belongs, and
    a skip would let every test that needs it pass CI unseen, so the test fails."""
    if Path(path).is_file():
        return Path(path)
    if str(ci).lower() in ("true", "1") and Path(shared).is_dir():
        pytest.fail(f"{path} not present, while CI is set and {shared} exists: the data set is "
                    "missing (put it there, or point FER2013_ZIP at it)", pytrace=False)
    pytest.skip(f"{path} not present")


@pytest.fixture(scope="session")
def load_script():
    """``load_script(NAME)``: scripts/NAME.py as a module (scripts/ is not a package)."""
    import importlib.util

    def load(name):
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def fer_zip():
    """The real FER2013 zip from ../shared, or skip (fail under CI where ../shared exists)."""
    return require_data_set(FER_ZIP, REPO.parent / "shared", os.environ.get("CI", ""))


@pytest.fixture(scope="session")
def fer_small(fer_zip, tmp_path_factory):
    """A small real subset: up to 40 images per class per split (Training, PublicTest,
    PrivateTest), read straight from the zip. A keras_fer.data.FERData."""
    from keras_fer.data import load

    cache = tmp_path_factory.mktemp("fer_cache")
    return load(fer_zip, per_class=40, cache_dir=cache)


@pytest.fixture(scope="session")
def fer_small_dir(fer_small, tmp_path_factory):
    """``fer_small`` as a data folder (``fer2013.npz``), for code that takes a path: CLIs and
    subprocesses."""
    from keras_fer.data import save_npz

    folder = tmp_path_factory.mktemp("fer_small_dir")
    save_npz(fer_small, folder / "fer2013.npz")
    return folder


@pytest.fixture(scope="session")
def tiny_data():
    """Synthetic FER2013 (random faces, no download): 70 Training, 14 PublicTest and 14
    PrivateTest images, two of each class per 14. A keras_fer.data.FERData."""
    import numpy as np

    from keras_fer.data import FERData

    rng = np.random.default_rng(0)
    splits = ["Training"] * 70 + ["PublicTest"] * 14 + ["PrivateTest"] * 14
    return FERData(rng.integers(0, 256, (98, 48, 48), dtype=np.uint8), np.arange(98) % 7, splits)


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory):
    """A finished run directory of 'baseline' trained one epoch on ``tiny_data`` (made once per
    session; copy it before changing anything in it)."""
    from keras_fer.config import TrainConfig
    from keras_fer.train import run

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    cfg = TrainConfig(model="baseline", epochs=1, batch_size=32, tensorboard=False, verbose=0,
                      out=str(out))
    return run(cfg, tiny_data)
