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
    from keras_fer.predict.faces import MTCNNDetector

    detector = MTCNNDetector()
    images, labels = fer_small.split("PublicTest")
    found = 0
    for face in images[labels == fer_small.classes.index("happy")][:10]:
        big = cv2.resize(cv2.copyMakeBorder(face, 24, 24, 24, 24, cv2.BORDER_REPLICATE),
                         (288, 288), interpolation=cv2.INTER_CUBIC)
        boxes = detector(np.repeat(big[..., None], 3, axis=-1))
        if len(boxes) == 1:
            x, y, w, h = boxes[0]
            found += 72 <= x + w / 2 <= 216 and 72 <= y + h / 2 <= 216 and w >= 60
    assert found >= 7  # of 10 clear, upscaled faces, centred
    assert detector(np.full((200, 200, 3), 128, "uint8")) == []
    rec = keras_fer.load(detector="mtcnn")
    assert rec.detect_emotions(np.full((200, 200, 3), 128, "uint8")) == []
