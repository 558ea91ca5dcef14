"""Offline face detection: MTCNN (the mtcnn package, keras_fer[mtcnn]) or OpenCV's Haar cascade
(shipped in keras_fer/assets), the light fallback.

Nothing is downloaded: the mtcnn package keeps its weights inside its wheel, and the cascade
XML ships with keras_fer (OpenCV 5 no longer ships the cascade files; ours is loaded first,
OpenCV's ``cv2.data`` copy is the fallback). "auto", the default, is MTCNN where the mtcnn
package is installed, else Haar. The crop margin, MTCNN's confidence cut and the eye alignment
are chosen on the end-to-end scene benchmark, ``keras_fer.bench.scenes`` (README).

A detector gives, per face, ``{"box": (x, y, w, h), "confidence": float or None, "keypoints":
{"left_eye": (x, y), ...}}`` (``detect``; keypoints only where the detector gives them, MTCNN);
``find_faces`` adds the ``crop_box`` it classifies: the box grown by the margin, made square,
clipped to the image, so ``box`` lies inside it. With ``align``, a face with eye keypoints is
rotated about the crop's centre until its eyes are level before it is cropped.

Example::

    detector = make_detector("auto")
    found, faces = find_faces(rgb, detector)  # [{"box", "confidence", "crop_box", ...}], uint8 (n, 48, 48)
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.predict.preprocess import faces_uint8
from keras_fer.resources import ASSETS

DETECTORS = ("auto", "mtcnn", "haar")
CASCADE = "haarcascade_frontalface_default.xml"
# Chosen on the scene benchmark (python -m keras_fer.bench.scenes: 100 scenes, 256 PublicTest
# faces; README), by correct labels over all faces. MTCNN: margin 0.0 gave 0.539, 0.1 0.527,
# 0.2 0.457 (the box is the face; a wider crop frames it smaller than FER2013 does); a cut of
# 0.5 found 0.859 of the faces, 0.9 0.805, with no more false detections; aligning the eyes
# cost 2 points at margin 0.0, on rotated faces too (0.664 -> 0.626). Haar (the light
# install's detector): minNeighbors 3 on the plain gray image found 0.637 of the faces (0.05
# false detections per scene more than 5); 5 with equalisation, the former default, 0.547.
MARGIN = 0.0  # fraction of the face box added on each side before cropping
MIN_CONFIDENCE = 0.5  # MTCNN detections below this score are dropped
ALIGN = False  # rotate a face with eye keypoints until its eyes are level
HAAR_NEIGHBORS = 3  # the cascade's minNeighbors
HAAR_EQUALIZE = False  # equalise the gray image's histogram before the cascade


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
    """OpenCV Haar cascade on the gray image (histogram-equalised with ``equalize``).

    Args:
        min_size: the smallest face side in pixels.
        scale_factor, min_neighbors: ``cv2.CascadeClassifier.detectMultiScale`` settings.
        equalize: equalise the gray image's histogram first.
    """

    name = "haar"

    def __init__(self, min_size=24, scale_factor=1.1, min_neighbors=HAAR_NEIGHBORS,
                 equalize=HAAR_EQUALIZE):
        import cv2

        self.cascade = cv2.CascadeClassifier(str(cascade_path()))
        if self.cascade.empty():
            raise UserError(f"{cascade_path()}: cannot load the Haar cascade")
        self.kwargs = dict(scaleFactor=scale_factor, minNeighbors=min_neighbors,
                           minSize=(min_size, min_size))
        self.equalize = equalize

    def detect(self, rgb) -> list:
        """[{"box": (x, y, w, h), "confidence": None}, ...], largest first (a cascade gives no
        score)."""
        import cv2

        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        gray = cv2.equalizeHist(gray) if self.equalize else gray
        boxes = self.cascade.detectMultiScale(gray, **self.kwargs)
        return sort_faces([{"box": tuple(int(v) for v in b), "confidence": None} for b in boxes])

    def __call__(self, rgb) -> list:
        return [f["box"] for f in self.detect(rgb)]


class MTCNNDetector:
    """The mtcnn package's detector (its weights are inside its wheel).

    Args:
        min_confidence: detections below this score are dropped (also MTCNN's last-stage
            threshold, whose own default is 0.8, so that a lower cut finds more).
    """

    name = "mtcnn"

    def __init__(self, min_confidence=MIN_CONFIDENCE):
        if not mtcnn_installed():
            raise UserError("--detector mtcnn needs the mtcnn package: pip install mtcnn "
                            "(or keras_fer[mtcnn])")
        self.min_confidence = min_confidence
        self._net = None

    @property
    def net(self):
        """MTCNN itself, made by the first detection: it starts TensorFlow (5 s of CPU), which
        ``keras_fer.load()`` given face crops (``predict_faces``) never needs."""
        if self._net is None:
            try:
                from mtcnn import MTCNN
            except ImportError as e:  # installed, but what it needs is not (TensorFlow)
                raise UserError(f"the mtcnn detector cannot start: {e}; pip install "
                                "\"keras_fer[mtcnn]\", or use the haar detector") from None
            self._net = MTCNN()
        return self._net

    def detect(self, rgb) -> list:
        """[{"box", "confidence", "keypoints": {"left_eye": (x, y), "right_eye", "nose",
        "mouth_left", "mouth_right"}}, ...], largest first."""
        found = self.net.detect_faces(np.ascontiguousarray(rgb),
                                      threshold_onet=self.min_confidence)
        return sort_faces([
            {"box": tuple(int(v) for v in d["box"]), "confidence": float(d["confidence"]),
             "keypoints": {k: (int(p[0]), int(p[1])) for k, p in d.get("keypoints", {}).items()}}
            for d in found if d.get("confidence", 1.0) >= self.min_confidence])

    def __call__(self, rgb) -> list:
        return [f["box"] for f in self.detect(rgb)]


def mtcnn_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("mtcnn") is not None
    except ValueError:  # in sys.modules without a spec: not an importable package
        return False


def make_detector(name="auto", min_confidence=MIN_CONFIDENCE):
    """"auto" | "mtcnn" | "haar" -> a callable ``rgb uint8 (H, W, 3) -> [(x, y, w, h), ...]``
    with a ``name`` and ``detect`` (``rgb -> [{"box", "confidence", ...}]``) ("auto": MTCNN
    where the mtcnn package is installed, else Haar)."""
    if name == "auto":
        name = "mtcnn" if mtcnn_installed() else "haar"
    if name == "haar":
        return HaarDetector()
    if name == "mtcnn":
        return MTCNNDetector(min_confidence)
    raise UserError(f"--detector: unknown detector {name!r} (choose from {', '.join(DETECTORS)})")


def sort_boxes(boxes) -> list:
    """Largest face first."""
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def sort_faces(faces) -> list:
    """Largest ``box`` first."""
    return sorted(faces, key=lambda f: -f["box"][2] * f["box"][3])


def iou(a, b, grow=0.0) -> float:
    """Intersection over union of two (x, y, w, h) boxes, each first grown by ``grow`` of its
    side on every side.

    Example:
        >>> iou((0, 0, 10, 10), (5, 0, 10, 10))
        0.3333333333333333
    """
    def corners(box):
        x, y, w, h = box
        return x - grow * w, y - grow * h, x + w * (1 + grow), y + h * (1 + grow)

    ax0, ay0, ax1, ay1 = corners(a)
    bx0, by0, bx1, by1 = corners(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def detect(detector, rgb) -> list:
    """A detector's faces as dicts: its ``detect`` where it has one, else its boxes (a plain
    callable ``rgb -> [(x, y, w, h), ...]``) with ``"confidence": None``."""
    if hasattr(detector, "detect"):
        return detector.detect(rgb)
    return [{"box": tuple(int(v) for v in b), "confidence": None} for b in detector(rgb)]


def clip_box(box, width, height) -> tuple:
    """``box`` (x, y, w, h) cut to the image."""
    x, y, w, h = box
    x0, y0 = min(max(0, x), width), min(max(0, y), height)
    return x0, y0, max(0, min(width, x + w) - x0), max(0, min(height, y + h) - y0)


def expand_box(box, margin, width, height) -> tuple:
    """A square around ``box`` (x, y, w, h), its side ``max(w, h) * (1 + 2 * margin)``, clipped
    to the image: FER2013 faces are square crops with some background. It holds ``box`` (cut
    to the image) whole, for any ``margin`` >= 0."""
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = max(0, math.floor(cx - side / 2)), max(0, math.floor(cy - side / 2))
    x1, y1 = min(width, math.ceil(cx + side / 2)), min(height, math.ceil(cy + side / 2))
    return x0, y0, x1 - x0, y1 - y0


def eye_angle(keypoints) -> float | None:
    """Degrees to rotate a face (counter-clockwise, as ``cv2.getRotationMatrix2D``) to level its
    eyes; None without both eye keypoints."""
    if not keypoints or "left_eye" not in keypoints or "right_eye" not in keypoints:
        return None
    (lx, ly), (rx, ry) = sorted([keypoints["left_eye"], keypoints["right_eye"]])
    return math.degrees(math.atan2(ry - ly, rx - lx))


def crop(rgb, crop_box, angle=None) -> np.ndarray:
    """The ``crop_box`` region of ``rgb``; with ``angle``, of ``rgb`` rotated by ``angle``
    degrees about the region's centre (edge pixels repeated where it reaches outside)."""
    x, y, w, h = crop_box
    if not angle:
        return rgb[y:y + h, x:x + w]
    import cv2

    m = cv2.getRotationMatrix2D((x + w / 2.0, y + h / 2.0), angle, 1.0)
    m[:, 2] -= (x, y)  # only the region is computed
    return cv2.warpAffine(np.ascontiguousarray(rgb), m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def find_faces(rgb, detector, margin=MARGIN, align=ALIGN) -> tuple:
    """([{"box", "confidence", "crop_box"[, "keypoints"]}, ...], uint8 (n, 48, 48) gray faces)
    of one RGB image, largest first: each face cropped from ``crop_box`` (the box grown by
    ``margin``), rotated to level its eyes first where ``align`` and the detector gave them."""
    height, width = rgb.shape[:2]
    found, faces = [], []
    for face in detect(detector, rgb):
        face = dict(face, box=clip_box(face["box"], width, height))
        if face["box"][2] < 1 or face["box"][3] < 1:
            continue
        face["crop_box"] = expand_box(face["box"], margin, width, height)
        region = crop(rgb, face["crop_box"], eye_angle(face.get("keypoints")) if align else None)
        faces.append(faces_uint8([region]))
        found.append(face)
    return found, (np.concatenate(faces) if faces else np.zeros((0, 48, 48), "uint8"))


def crop_faces(rgb, boxes, margin=MARGIN) -> tuple:
    """(boxes expanded by ``margin``, uint8 (n, 48, 48) gray faces) of one image."""
    found, faces = find_faces(rgb, lambda _: boxes, margin, align=False)
    return [f["crop_box"] for f in found], faces
