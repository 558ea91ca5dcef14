"""Shared fixtures. The suite runs on TensorFlow by default; `make test` runs the tests marked
`backends` a second time with KERAS_BACKEND=jax."""
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FER_ZIP = Path(os.environ.get("FER2013_ZIP", REPO.parent / "shared" / "datasets" / "fer2013.zip"))


@pytest.fixture(scope="session")
def fer_zip():
    """The real FER2013 zip from ../shared, or skip."""
    if not FER_ZIP.is_file():
        pytest.skip(f"{FER_ZIP} not present")
    return FER_ZIP


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
