"""MTCNN (keras_fer[mtcnn], installed by requirements-dev.txt) and the "auto" choice."""
import sys

import cv2
import numpy as np
import pytest


def test_auto_is_mtcnn_where_installed_else_haar(monkeypatch):
    from keras_fer.predict.faces import HaarDetector, make_detector, mtcnn_installed

    monkeypatch.setitem(sys.modules, "mtcnn", None)
    assert not mtcnn_installed() and isinstance(make_detector("auto"), HaarDetector)
    assert make_detector().name == "haar"
    monkeypatch.undo()
    if mtcnn_installed():
        assert make_detector("auto").name == "mtcnn"


def test_mtcnn_finds_an_upscaled_fer_face_and_nothing_on_a_blank(fer_small):
    pytest.importorskip("mtcnn", reason="keras_fer[mtcnn] not installed")
    import keras_fer
    from keras_fer.predict.faces import MIN_CONFIDENCE, MTCNNDetector

    detector = MTCNNDetector()
    images, labels = fer_small.split("PublicTest")
    found = 0
    for face in images[labels == fer_small.classes.index("happy")][:10]:
        big = cv2.resize(cv2.copyMakeBorder(face, 24, 24, 24, 24, cv2.BORDER_REPLICATE),
                         (288, 288), interpolation=cv2.INTER_CUBIC)
        faces = detector.detect(np.repeat(big[..., None], 3, axis=-1))
        if len(faces) == 1:
            x, y, w, h = faces[0]["box"]
            found += (72 <= x + w / 2 <= 216 and 72 <= y + h / 2 <= 216 and w >= 60
                      and MIN_CONFIDENCE <= faces[0]["confidence"] <= 1.0
                      and set(faces[0]["keypoints"]) == {"left_eye", "right_eye", "nose",
                                                         "mouth_left", "mouth_right"})
    assert found >= 7  # of 10 clear, upscaled faces, centred, with a score and 5 keypoints
    assert detector(np.full((200, 200, 3), 128, "uint8")) == []
    rec = keras_fer.load(detector="mtcnn")
    assert rec.detect_emotions(np.full((200, 200, 3), 128, "uint8")) == []


def test_mtcnn_that_cannot_start_is_a_user_error_at_its_first_detection(monkeypatch):
    """MTCNN is made by the first detection (``load()`` starts no TensorFlow): where the mtcnn
    package is found but cannot be imported (TensorFlow missing), that detection says so."""
    pytest.importorskip("mtcnn", reason="keras_fer[mtcnn] not installed")
    from keras_fer.errors import UserError
    from keras_fer.predict.faces import MTCNNDetector

    detector = MTCNNDetector()
    monkeypatch.setitem(sys.modules, "mtcnn", None)  # its import now fails
    with pytest.raises(UserError, match=r"^the mtcnn detector cannot start: .*haar detector$"):
        detector.detect(np.zeros((64, 64, 3), "uint8"))


class Stub:
    """A detector that gives fixed faces (boxes partly off the image too)."""

    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return self.faces


@pytest.mark.parametrize("margin", [0.0, 0.2, 0.5])
def test_box_lies_inside_crop_box_and_the_image(margin):
    from keras_fer.predict.faces import find_faces

    rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = [(40, 30, 50, 40), (-10, -5, 30, 30), (140, 100, 40, 40), (0, 0, 160, 120),
             (71, 13, 9, 27)]
    found, faces = find_faces(rgb, Stub([{"box": b, "confidence": 0.95} for b in boxes]),
                              margin=margin)
    assert faces.shape == (5, 48, 48) and [f["confidence"] for f in found] == [0.95] * 5
    for f in found:
        (x, y, w, h), (cx, cy, cw, ch) = f["box"], f["crop_box"]
        assert 0 <= cx <= x and 0 <= cy <= y and x + w <= cx + cw <= 160 and y + h <= cy + ch <= 120
    assert found[0]["box"] == (40, 30, 50, 40)  # inside: the detector's box as it is
    assert found[1]["box"] == (0, 0, 20, 25)  # cut to the image
    side = round(50 * (1 + 2 * margin))  # a square around the first box's centre (65, 50)
    assert found[0]["crop_box"] == (65 - side // 2, 50 - side // 2, side, side)


def test_align_levels_the_eyes():
    from keras_fer.predict.faces import crop, eye_angle

    rgb = np.zeros((100, 100, 3), "uint8")
    cv2.circle(rgb, (30, 40), 3, (255, 255, 255), -1)  # eyes on a line 26.6 degrees down
    cv2.circle(rgb, (70, 60), 3, (255, 255, 255), -1)
    angle = eye_angle({"right_eye": (70, 60), "left_eye": (30, 40)})
    assert angle == pytest.approx(np.degrees(np.arctan2(20, 40)))
    level = crop(rgb, (0, 0, 100, 100), angle)[..., 0]
    n, _, _, centres = cv2.connectedComponentsWithStats((level > 127).astype("uint8"))
    assert n == 3 and abs(centres[1][1] - centres[2][1]) < 1.0  # background + two level eyes
    assert (crop(rgb, (10, 20, 30, 40)) == rgb[20:60, 10:40]).all()  # no angle: a plain crop
    assert eye_angle({"nose": (1, 2)}) is None and eye_angle(None) is None


def test_detect_emotions_reports_box_confidence_crop_box_keypoints(run_dir):
    import keras_fer

    rgb = np.random.default_rng(1).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    eyes = {"left_eye": (120, 90), "right_eye": (160, 110)}
    stub = Stub([{"box": (100, 60, 80, 90), "confidence": 0.97, "keypoints": eyes},
                 {"box": (10, 10, 30, 30), "confidence": 0.91}])
    for align in (False, True):
        rec = keras_fer.load(run_dir, detector=stub, margin=0.2)
        rec.align = align
        big, small = rec.detect_emotions(rgb)
        assert big["box"] == (100, 60, 80, 90) and big["confidence"] == 0.97
        assert big["keypoints"] == eyes and "keypoints" not in small
        assert big["crop_box"] == (77, 42, 126, 126)  # 90 * 1.4 around the centre (140, 105)
        for face in (big, small):
            (x, y, w, h), (cx, cy, cw, ch) = face["box"], face["crop_box"]
            assert cx <= x and cy <= y and x + w <= cx + cw and y + h <= cy + ch
        record = rec.record(np.eye(7)[3], {**stub.faces[0], "crop_box": big["crop_box"]})
        assert record["keypoints"] == {k: list(v) for k, v in eyes.items()}
    plain = keras_fer.load(run_dir, detector=lambda rgb: [(100, 60, 80, 90)])
    [face] = plain.detect_emotions(rgb)
    assert face["confidence"] is None and face["box"] == (100, 60, 80, 90)


def test_load_and_the_cli_default_to_the_chosen_margin_and_alignment():
    import inspect

    import keras_fer
    from keras_fer.predict import faces
    from keras_fer.predict.cli import build_parser
    from keras_fer.predict.core import Predictor

    assert inspect.signature(keras_fer.load).parameters["margin"].default == faces.MARGIN
    params = inspect.signature(Predictor).parameters
    assert (params["margin"].default, params["align"].default) == (faces.MARGIN, faces.ALIGN)
    args = build_parser().parse_args(["x.png"])
    assert (args.margin, args.align) == (faces.MARGIN, faces.ALIGN)
    assert build_parser().parse_args(["x.png", "--align"]).align is True
