"""Tiny synthetic FER2013 sources written by the tests (CSV, image folders, zips)."""
import zipfile

import numpy as np
import pytest
from PIL import Image

from keras_fer import EMOTIONS


def pixels_of(i):
    """A distinct, deterministic 48x48 uint8 image for row/file number i."""
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, (48, 48), dtype=np.uint8)


def write_csv(path, rows, usage=True):
    """rows: (label, split) pairs; row i gets pixels_of(i). Returns the images written."""
    header = "emotion,pixels,Usage" if usage else "emotion,pixels"
    lines, images = [header], []
    for i, (label, split) in enumerate(rows):
        img = pixels_of(i)
        images.append(img)
        pix = " ".join(map(str, img.reshape(-1)))
        lines.append(f"{label},{pix},{split}" if usage else f"{label},{pix}")
    path.write_text("\n".join(lines) + "\n")
    return np.stack(images)


def write_png(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def zip_folder(folder, zip_path):
    with zipfile.ZipFile(zip_path, "w") as zf:
        for f in sorted(folder.rglob("*")):
            zf.write(f, f.relative_to(folder).as_posix())
    return zip_path


# The image-folder release in miniature: (member, label, split); PNG so pixels round-trip exactly.
RELEASE = [
    ("train/angry/Training_3.png", 0, "Training"),
    ("train/angry/Training_1.png", 0, "Training"),
    ("train/angry/Training_2.png", 0, "Training"),
    ("train/happy/Training_9.png", 3, "Training"),
    ("train/neutral/Training_5.png", 6, "Training"),
    ("test/happy/PublicTest_4.png", 3, "PublicTest"),
    ("test/happy/PrivateTest_7.png", 3, "PrivateTest"),
    ("test/sad/PrivateTest_8.png", 4, "PrivateTest"),
]


@pytest.fixture
def release_dir(tmp_path):
    """An extracted image-folder release; returns (folder, {member: image})."""
    root = tmp_path / "release"
    images = {}
    for i, (member, _, _) in enumerate(RELEASE):
        images[member] = pixels_of(100 + i)
        write_png(root / member, images[member])
    return root, images


@pytest.fixture
def classes_csv(tmp_path):
    """fer2013.csv with every class in every split: 2 Training, 1 PublicTest, 1 PrivateTest each."""
    rows = [(c, s) for c in range(len(EMOTIONS))
            for s in ("Training", "Training", "PublicTest", "PrivateTest")]
    path = tmp_path / "fer2013.csv"
    return path, write_csv(path, rows), rows


@pytest.fixture(scope="session")
def synth():
    """The helper functions above, for tests (conftest is not importable under importlib mode)."""
    import types

    return types.SimpleNamespace(pixels_of=pixels_of, write_csv=write_csv, write_png=write_png,
                                 zip_folder=zip_folder, RELEASE=RELEASE)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never write to the user's ~/.cache from a test; cache even tiny test data sets."""
    from keras_fer.data import loader

    monkeypatch.setenv("KERAS_FER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(loader, "CACHE_MIN_IMAGES", 0)
