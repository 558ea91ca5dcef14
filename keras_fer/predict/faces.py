"""Offline face detection: MTCNN (the mtcnn package, keras_fer[mtcnn]) or OpenCV's Haar cascade
(shipped in keras_fer/assets), the light fallback.

Nothing is downloaded: the mtcnn package keeps its weights inside its wheel, and the cascade
XML ships with keras_fer (OpenCV 5 no longer ships the cascade files; ours is loaded first,
OpenCV's ``cv2.data`` copy is the fallback). "auto", the default, is MTCNN where the mtcnn
package is installed, else Haar: on the benchmark of ``keras_fer.predict.bench_detectors``
(README) MTCNN finds 73% of the faces at IoU 0.5, Haar 55%, in about the same time.

Example::

    detector = make_detector("auto")
    boxes = detector(rgb)                    # [(x, y, w, h), ...], largest first
    faces = crop_faces(rgb, boxes, margin=0.2)   # uint8 (n, 48, 48)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.predict.preprocess import faces_uint8
from keras_fer.resources import ASSETS

DETECTORS = ("auto", "mtcnn", "haar")
CASCADE = "haarcascade_frontalface_default.xml"


def cascade_path() -> Path:
    """keras_fer's copy of the frontal-face cascade, else OpenCV's own."""
    if (ASSETS / CASCADE).is_file():
        return ASSETS / CASCADE
    import cv2

    theirs = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / CASCADE
    if theirs.is_file():
        return theirs
    raise UserError(f"{ASSETS / CASCADE}: Haar cascade file missing (reinstall keras_fer)")


class HaarDetector:
    """OpenCV Haar cascade on the histogram-equalised gray image.

    Args:
        min_size: the smallest face side in pixels.
        scale_factor, min_neighbors: ``cv2.CascadeClassifier.detectMultiScale`` settings.
    """

    name = "haar"

    def __init__(self, min_size=24, scale_factor=1.1, min_neighbors=5):
        import cv2

        self.cascade = cv2.CascadeClassifier(str(cascade_path()))
        if self.cascade.empty():
            raise UserError(f"{cascade_path()}: cannot load the Haar cascade")
        self.kwargs = dict(scaleFactor=scale_factor, minNeighbors=min_neighbors,
                           minSize=(min_size, min_size))

    def __call__(self, rgb) -> list:
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))
        boxes = self.cascade.detectMultiScale(gray, **self.kwargs)
        return sort_boxes([tuple(int(v) for v in b) for b in boxes])


class MTCNNDetector:
    """The mtcnn package's detector (its weights are inside its wheel).

    Args:
        min_confidence: detections below this score are dropped.
    """

    name = "mtcnn"

    def __init__(self, min_confidence=0.9):
        try:
            from mtcnn import MTCNN
        except ImportError:
            raise UserError("--detector mtcnn needs the mtcnn package: pip install mtcnn "
                            "(or keras_fer[mtcnn])") from None
        self.net = MTCNN()
        self.min_confidence = min_confidence

    def __call__(self, rgb) -> list:
        found = self.net.detect_faces(np.ascontiguousarray(rgb))
        return sort_boxes([tuple(int(v) for v in d["box"]) for d in found
                           if d.get("confidence", 1.0) >= self.min_confidence])


def mtcnn_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("mtcnn") is not None
    except ValueError:  # in sys.modules without a spec: not an importable package
        return False


def make_detector(name="auto"):
    """"auto" | "mtcnn" | "haar" -> a callable ``rgb uint8 (H, W, 3) -> [(x, y, w, h), ...]``
    with a ``name`` ("auto": MTCNN where the mtcnn package is installed, else Haar)."""
    if name == "auto":
        name = "mtcnn" if mtcnn_installed() else "haar"
    if name == "haar":
        return HaarDetector()
    if name == "mtcnn":
        return MTCNNDetector()
    raise UserError(f"--detector: unknown detector {name!r} (choose from {', '.join(DETECTORS)})")


def sort_boxes(boxes) -> list:
    """Largest face first."""
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def expand_box(box, margin, width, height) -> tuple:
    """A square around ``box`` (x, y, w, h), its side ``max(w, h) * (1 + 2 * margin)``, clipped
    to the image: FER2013 faces are square crops with some background."""
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = max(0, int(round(cx - side / 2))), max(0, int(round(cy - side / 2)))
    x1, y1 = min(width, int(round(cx + side / 2))), min(height, int(round(cy + side / 2)))
    return x0, y0, x1 - x0, y1 - y0


def crop_faces(rgb, boxes, margin=0.2) -> tuple:
    """(boxes expanded by ``margin``, uint8 (n, 48, 48) gray faces) of one image."""
    height, width = rgb.shape[:2]
    expanded = [expand_box(b, margin, width, height) for b in boxes]
    faces = [faces_uint8([rgb[y:y + h, x:x + w]]) for x, y, w, h in expanded]
    faces = np.concatenate(faces) if faces else np.zeros((0, 48, 48), "uint8")
    return expanded, faces
