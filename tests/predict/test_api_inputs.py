"""The Python API's bad inputs (issue 40): each is a UserError naming the value, never a NumPy,
OpenCV or TensorFlow traceback, nor a silently wrong answer. Run on the packaged model through
LiteRT (no Keras model is loaded)."""
import numpy as np
import pytest
from PIL import Image

from keras_fer.errors import UserError


@pytest.fixture(scope="module")
def rec():
    import keras_fer

    return keras_fer.load(detector=None)


def face(seed=0, size=48):
    """A colour face-sized image whose channels differ (so RGB and BGR give other answers)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), "uint8"), np.zeros((0, 7), "uint8"),
                                   Image.new("RGB", (0, 0)), Image.new("L", (5, 0))],
                         ids=["array0x0", "array7x0", "pil0x0", "pil5x0"])
def test_an_empty_image_is_a_user_error(rec, image):
    with pytest.raises(UserError, match=r"image: empty \(\d+x\d+ pixels\)"):
        rec.detect_emotions(image)


@pytest.mark.parametrize("margin", [-0.5, float("nan"), float("inf"), "0.2", True, 1.5, None])
def test_load_rejects_a_margin_outside_0_1(margin):
    import keras_fer

    with pytest.raises(UserError, match=r"margin: expected a number between 0 and 1, got "):
        keras_fer.load(detector=None, margin=margin)


def test_load_takes_margins_0_and_1():
    import keras_fer

    assert keras_fer.load(detector=None, margin=0).margin == 0.0
    assert keras_fer.load(detector=None, margin=np.float32(1.0)).margin == 1.0


def test_one_colour_crop_is_refused_not_read_as_48_crops(rec):
    crop = face()
    with pytest.raises(UserError, match=r"one array of shape \(48, 48, 3\).*\[crop\] or "
                                        r"crop\[None\]"):
        rec.predict_faces(crop)
    one = rec.predict_faces([crop])
    assert one.shape == (1, len(rec.classes))
    np.testing.assert_array_equal(rec.predict_faces(crop[None]), one)
    assert rec.predict_faces(np.stack([crop[..., 0]] * 3)).shape == (3, len(rec.classes))
    with pytest.raises(UserError, match=r"crops\[1\]: expected a non-empty uint8"):
        rec.predict_faces([crop, np.zeros((0, 4), "uint8")])


def test_a_float_pil_image_in_0_1_is_refused_and_in_0_255_read_as_gray_levels(rec):
    gray = face()[..., 0]
    with pytest.raises(UserError, match=r"mode F with values in \[0, 1\]"):
        rec.detect_emotions(Image.fromarray(gray.astype("float32") / 255.0, "F"))
    as_float = rec.detect_emotions(Image.fromarray(gray.astype("float32"), "F"))
    assert as_float == rec.detect_emotions(gray)
    with pytest.raises(UserError, match=r"mode F must hold gray levels in \[0, 255\]"):
        rec.detect_emotions(Image.fromarray(np.full((48, 48), 300.0, "float32"), "F"))
    black = np.zeros((48, 48), "float32")  # all zero: black either way
    assert rec.detect_emotions(Image.fromarray(black, "F")) == rec.detect_emotions(
        black.astype("uint8"))


@pytest.mark.parametrize("box, needle", [
    ((500, 10, 40, 40), "lies outside the 320x240 image"),
    ((-100, -100, 50, 50), "lies outside the 320x240 image"),
    ((10, 300, 40, 40), "lies outside the 320x240 image"),
    ((10, 10, 0, 40), "needs finite x, y and w, h > 0"),
    ((10, 10, float("nan"), 40), "needs finite x, y and w, h > 0"),
    ((10, 10, 40), "expected (x, y, w, h)"),
])
def test_a_custom_detectors_bad_box_is_named(box, needle):
    import keras_fer

    rec = keras_fer.load(detector=lambda rgb: [(0, 0, 20, 20), box])
    with pytest.raises(UserError, match=r"detector: box 1 ") as info:
        rec.detect_emotions(np.zeros((240, 320, 3), "uint8"))
    assert needle in str(info.value)


def test_a_box_partly_outside_is_clipped_to_the_image():
    import keras_fer

    image = np.zeros((240, 320, 3), "uint8")
    image[:60, :60] = face(3, 60)
    inside = keras_fer.load(detector=lambda rgb: [(0, 0, 50, 50)], margin=0.0)
    partly = keras_fer.load(detector=lambda rgb: [(-10, -10, 60, 60)], margin=0.0)
    [a], [b] = inside.detect_emotions(image), partly.detect_emotions(image)
    assert a["box"] == (0, 0, 50, 50) and b["box"] == (0, 0, 50, 50)
    assert a["emotions"] == b["emotions"]


@pytest.mark.parametrize("image", [[], [np.zeros((48, 48), "uint8")] * 2, ()],
                         ids=["empty-list", "list-of-2", "empty-tuple"])
def test_detect_emotions_takes_one_image_not_a_list(rec, image):
    with pytest.raises(UserError, match=r"expected one image .*got a (list|tuple) of \d+ items"):
        rec.detect_emotions(image)


def test_bgr_flag_reverses_the_channels_of_a_colour_frame(rec):
    rgb = face(5)
    [ref] = rec.detect_emotions(rgb)
    [bgr] = rec.detect_emotions(np.ascontiguousarray(rgb[..., ::-1]), bgr=True)
    [wrong] = rec.detect_emotions(np.ascontiguousarray(rgb[..., ::-1]))
    assert bgr == ref
    assert wrong["emotions"] != ref["emotions"]  # so a flag that is ignored fails this test
    rgba = np.concatenate([rgb, np.full((48, 48, 1), 255, "uint8")], axis=-1)
    [bgra] = rec.detect_emotions(np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]), bgr=True)
    assert bgra == ref
    assert rec.detect_emotions(Image.fromarray(rgb), bgr=True) == [ref]  # PIL is RGB
