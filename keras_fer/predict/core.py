"""Prediction on images: find inputs, read, detect faces, classify in batches."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError, UserFileNotFound
from keras_fer.predict.faces import ALIGN, MARGIN, find_faces, make_detector
from keras_fer.predict.preprocess import faces_uint8

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"}
IMAGES_STEM = "predictions"  # --out/predictions.csv and .json: the image inputs' results


def kind_of(path) -> str | None:
    suffix = Path(path).suffix.lower()
    return "image" if suffix in IMAGE_EXTS else "video" if suffix in VIDEO_EXTS else None


def expand_inputs(inputs, skip=None) -> tuple:
    """INPUT arguments -> ([(path, "image" | "video"), ...], [error line, ...]).

    A folder gives its image and video files (recursively, sorted), less those in the folder
    ``skip`` below it (the output folder: a re-run must not read its own results back); a
    missing path, a folder without any, or a file of another type is an error line naming it.
    """
    items, errors = [], []
    skip = Path(skip).resolve() if skip is not None else None
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            below = skip is not None and skip != path.resolve() and path.resolve() in skip.parents
            found = sorted(p for p in path.rglob("*") if p.is_file() and kind_of(p) and not (
                below and skip in p.resolve().parents))
            if not found:
                errors.append(f"{path}: no image or video files in this folder")
            items += [(p, kind_of(p)) for p in found]
        elif not path.exists():
            errors.append(f"{path}: no such file or folder")
        elif kind_of(path) is None:
            errors.append(f"{path}: not an image or video file (by its extension)")
        else:
            items.append((path, kind_of(path)))
    return items, errors


def read_image(path) -> np.ndarray:
    """RGB uint8 (H, W, 3) of an image file (EXIF orientation applied, 16-bit scaled to 8 bits
    as `keras_fer.data.to_8bit` does for training data); UserError if unreadable."""
    from PIL import Image, ImageOps

    from keras_fer.data.core import image_error, to_8bit

    try:
        with Image.open(path) as im:
            return np.asarray(to_8bit(ImageOps.exif_transpose(im)).convert("RGB"))
    except FileNotFoundError:
        raise UserFileNotFound(f"{path}: no such image file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise UserError(f"{path}: cannot read image ({image_error(e)})") from None


def _pil_rgb(image) -> np.ndarray:
    """A PIL image as RGB uint8. A float image (mode "F") holds gray levels in [0, 255]; one
    in [0, 1] would be taken for a near-black image, so it is refused rather than guessed."""
    from keras_fer.data.core import to_8bit

    if image.mode == "F":
        values = np.asarray(image)
        top = float(values.max()) if values.size else 0.0
        if values.size and not (np.isfinite(values).all() and values.min() >= 0 and top <= 255):
            raise UserError(f"image: a PIL image of mode F must hold gray levels in [0, 255], "
                            f"got {float(values.min())}..{top}")
        if 0.0 < top <= 1.0:
            raise UserError("image: a PIL image of mode F with values in [0, 1] would be read "
                            "as near-black (keras_fer reads gray levels 0-255): pass "
                            "Image.fromarray((a * 255).round().astype('uint8'))")
    return np.asarray(to_8bit(image).convert("RGB"))


def to_rgb(image, bgr=False) -> np.ndarray:
    """An image as RGB uint8 (H, W, 3): a file path, a PIL image, or a uint8 array (H, W),
    (H, W, 1), (H, W, 3) or (H, W, 4) (alpha dropped); ``bgr``: a 3/4-channel array is in
    OpenCV's BGR order.

    Raises:
        UserError: an unreadable file, an empty image, a list (one image is expected), an
            array of another dtype or shape, a mode-"F" PIL image in [0, 1].
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, (list, tuple)):
        raise UserError(f"image: expected one image (a path, a PIL image or a uint8 array), got "
                        f"a {type(image).__name__} of {len(image)} items (call detect_emotions "
                        "once per image; predict_faces takes a list of face crops)")
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image
        a = _pil_rgb(image)
    else:
        a = np.asarray(image)
        if a.dtype != np.uint8:
            raise UserError(f"image: expected uint8 pixel values, got dtype {a.dtype} (for "
                            "floats in [0, 1], pass (image * 255).round().astype('uint8'))")
        if a.ndim == 2:
            a = a[..., None]
        if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
            raise UserError(f"image: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                            f"got {a.shape}")
        a = a[..., 2::-1] if bgr and a.shape[-1] > 1 else a[..., :3]
    if 0 in a.shape[:2]:
        raise UserError(f"image: empty ({a.shape[1]}x{a.shape[0]} pixels)")
    return np.ascontiguousarray(np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a)


def crops_to_faces(crops) -> np.ndarray:
    """Face crops (an array (N, H, W[, C]) or a list of (H, W[, C]) uint8 arrays of any sizes)
    -> uint8 (N, 48, 48); crops of one size are converted together, 256 at a time.

    Raises:
        UserError: a crop of another dtype or shape, or one array (H, W, C) with C in 1..4: a
            single colour crop, not H crops of W x C pixels.
    """
    if isinstance(crops, np.ndarray):
        if crops.dtype == np.uint8 and crops.shape[1:] == (48, 48):
            return crops  # faces already (FER2013's own): nothing to convert, at any batch size
        if crops.ndim == 3 and crops.shape[-1] in (1, 3, 4):
            raise UserError(f"crops: got one array of shape {crops.shape}, which reads as "
                            f"{crops.shape[0]} crops of {crops.shape[1]}x{crops.shape[2]} "
                            "pixels: for one colour crop pass [crop] or crop[None]")
        if crops.ndim not in (3, 4):
            raise UserError(f"crops: expected an array (N, H, W) or (N, H, W, C), or a list of "
                            f"crops, got shape {crops.shape}")
        items = list(crops)
    else:
        items = [np.asarray(c) for c in crops]
    for i, c in enumerate(items):
        if (c.dtype != np.uint8 or c.ndim not in (2, 3) or (c.ndim == 3 and c.shape[-1] > 4)
                or 0 in c.shape):
            raise UserError(f"crops[{i}]: expected a non-empty uint8 (H, W) or (H, W, C) image, "
                            f"got dtype {c.dtype} shape {c.shape}")
    out = np.zeros((len(items), 48, 48), "uint8")
    by_shape = {}
    for i, c in enumerate(items):
        by_shape.setdefault(c.shape, []).append(i)
    for idx in by_shape.values():
        for start in range(0, len(idx), 256):
            part = idx[start:start + 256]
            out[part] = faces_uint8([items[i] for i in part])
    return out


def check_margin(margin) -> float:
    """``margin`` as a float in [0, 1]; UserError for anything else (a string, NaN, inf)."""
    import numbers

    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise UserError(f"margin: expected a number between 0 and 1, got {margin!r}")
    if not 0.0 <= float(margin) <= 1.0:  # False for NaN
        raise UserError(f"margin: expected a number between 0 and 1, got {margin!r}")
    return float(margin)


def check_boxes(boxes, width, height) -> list:
    """A detector's boxes (x, y, w, h) as ints, each with w, h > 0 and overlapping the
    ``width`` x ``height`` image (a box partly outside is clipped by the crop); UserError
    naming a box that is not (a custom detector's box off the image would otherwise slice
    another region: negative indices count from the far edge)."""
    checked = []
    for i, box in enumerate(boxes):
        try:
            x, y, w, h = (float(v) for v in box)
        except (TypeError, ValueError):
            raise UserError(f"detector: box {i} is {box!r}, expected (x, y, w, h)") from None
        if not all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
            raise UserError(f"detector: box {i} {tuple(box)} needs finite x, y and w, h > 0")
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise UserError(f"detector: box {i} {tuple(box)} lies outside the {width}x{height} "
                            "image")
        checked.append((int(np.floor(x)), int(np.floor(y)), max(1, int(round(w))),
                        max(1, int(round(h)))))
    return checked


class Predictor:
    """A model with its class names, a face detector and a crop margin: image -> emotions.

    ``keras_fer.load()`` makes one. Every answer goes through ``proba``, which classifies faces
    in batches (of ``keras_fer.predict.classifier.BATCH_SIZE``).

    Args:
        model_dir: a run directory (``model.keras``, and its ``export/`` when exported), an
            export folder (``model_int8.tflite``, ``savedmodel/``), a SavedModel folder or a
            ``.tflite`` file.
        detector: a callable ``rgb -> boxes``, a name for ``make_detector`` ("auto", "mtcnn",
            "haar"), or None when the inputs are face crops already (the whole image is
            classified).
        margin: fraction of the face box added on each side before cropping, in [0, 1]
            (default ``keras_fer.predict.faces.MARGIN``, chosen on the scene benchmark).
        align: rotate a face to level its eyes before cropping, where the detector gives eye
            keypoints (MTCNN) (default ``keras_fer.predict.faces.ALIGN``).
        engine: "litert", "savedmodel", "keras", or None for the fastest faithful one the
            folder has (``keras_fer.predict.classifier.choose_engine``).

    Example::

        p = Predictor("saved_models/best", "auto")
        p.detect_emotions("photo.jpg")
        # [{"box": (x, y, w, h), "confidence": 0.99, "crop_box": (x, y, w, h),
        #   "keypoints": {...}, "emotions": {"angry": 0.01, ...}, "label": "happy"}, ...]
        p.predict_faces(crops)           # (N, classes) probabilities
    """

    def __init__(self, model_dir, detector=None, margin=MARGIN, align=ALIGN, engine=None):
        from keras_fer.predict.classifier import open_classifier

        self.margin = check_margin(margin)
        self.classifier = open_classifier(model_dir, engine)
        self.engine = self.classifier.engine
        self.classes = list(self.classifier.classes)
        self.model = getattr(self.classifier, "model", None)  # the Keras model, if it is one
        self.detector = make_detector(detector) if isinstance(detector, str) else detector
        self.align = align

    def faces(self, rgb) -> tuple:
        """([{"box", "confidence", "crop_box"[, "keypoints"]}, ...], uint8 faces (n, 48, 48))
        of one RGB image, largest first (``keras_fer.predict.faces.find_faces``)."""
        h, w = rgb.shape[:2]
        if self.detector is None:
            return [{"box": (0, 0, w, h), "confidence": None, "crop_box": (0, 0, w, h)}], \
                faces_uint8([rgb])
        detector = self.detector
        if not hasattr(detector, "detect"):  # a user's callable: its boxes are checked first
            boxes = check_boxes(detector(rgb), w, h)
            detector = lambda _: boxes  # noqa: E731
        return find_faces(rgb, detector, self.margin, self.align)

    def proba(self, faces) -> np.ndarray:
        """Softmax probabilities (n, classes) of uint8 48x48 faces."""
        if len(faces) == 0:
            return np.zeros((0, len(self.classes)))
        return self.classifier(np.asarray(faces, "uint8"))

    def analyse(self, rgbs) -> list:
        """[(boxes, probabilities (n, classes)), ...] of RGB images: detection per image, then
        one batched classification of all their faces."""
        found = [self.faces(rgb) for rgb in rgbs]
        probs = self.proba(np.concatenate([f for _, f in found]) if found else [])
        ends = np.cumsum([len(b) for b, _ in found])
        return [(boxes, probs[end - len(boxes):end]) for (boxes, _), end in zip(found, ends)]

    def emotions(self, probs, face) -> dict:
        """``{"box": (x, y, w, h), "confidence", "crop_box"[, "keypoints"], "emotions": {name:
        p}, "label": name}`` of one face (a ``faces`` dict, or a bare box)."""
        face = face if isinstance(face, dict) else {"box": face, "confidence": None}
        out = {"box": tuple(int(v) for v in face["box"]), "confidence": face.get("confidence"),
               "crop_box": tuple(int(v) for v in face.get("crop_box", face["box"]))}
        if "keypoints" in face:
            out["keypoints"] = face["keypoints"]
        return dict(out, emotions={c: float(p) for c, p in zip(self.classes, probs)},
                    label=self.classes[int(np.argmax(probs))])

    def detect_emotions(self, image, bgr=False) -> list:
        """The faces of one image, largest first, each ``{"box": (x, y, w, h), "confidence",
        "crop_box": (x, y, w, h), "emotions": {name: probability}, "label": name}`` and, where
        the detector gives them, ``"keypoints"`` (box: the detector's face box; confidence: its
        score, None for Haar; crop_box: the square region classified, the box plus the margin);
        [] when no face is found.

        Args:
            image: a path, a PIL image, or a uint8 array (H, W), (H, W, 1), (H, W, 3) RGB.
            bgr: the array is an OpenCV (BGR) frame.
        """
        [(boxes, probs)] = self.analyse([to_rgb(image, bgr)])
        return [self.emotions(p, b) for p, b in zip(probs, boxes)]

    def predict_faces(self, crops) -> np.ndarray:
        """Probabilities (N, classes) of N face crops (an array (N, H, W[, C]) or a list of
        uint8 arrays of any sizes), classified in batches."""
        return self.proba(crops_to_faces(crops))

    def record(self, probs, detection, **fields) -> dict:
        """A CLI record: ``fields`` with box and crop_box (lists), confidence, keypoints (where
        given), label and probabilities of one face (``detection``: a ``faces`` dict)."""
        out = self.emotions(probs, detection)
        extra = {"keypoints": {k: list(p) for k, p in out["keypoints"].items()}} \
            if "keypoints" in out else {}
        return dict(fields, box=list(out["box"]), confidence=out["confidence"],
                    crop_box=list(out["crop_box"]), **extra, label=out["label"],
                    probabilities=out["emotions"])

    def images(self, paths, batch_size=64):
        """Yield (path, records or UserError) for image files, classified ``batch_size``
        images at a time; a record per face ({"input", "face", "box", "label",
        "probabilities"}), or one with ``"label": None`` when no face is found."""
        paths = list(paths)
        for start in range(0, len(paths), batch_size):
            chunk, rgbs = [], []
            for path in paths[start:start + batch_size]:
                try:
                    rgbs.append(read_image(path))
                    chunk.append((path, None))
                except UserError as e:
                    chunk.append((path, e))
            results = iter(self.analyse(rgbs))
            for path, error in chunk:
                if error is not None:
                    yield path, error
                    continue
                boxes, probs = next(results)
                yield path, ([self.record(p, b, input=str(path), face=i)
                              for i, (p, b) in enumerate(zip(probs, boxes))] or
                             [{"input": str(path), "face": None, "box": None, "label": None,
                               "note": "no face found"}])

    def image(self, path) -> list:
        """The records of one image file (``images``); UserError when it cannot be read."""
        [(_, records)] = self.images([path])
        if isinstance(records, UserError):
            raise records
        return records


def records_csv(records, classes) -> str:
    """CSV text of image records: input, face, x, y, w, h (the face box), confidence, crop_x,
    crop_y, crop_w, crop_h (the region classified), label, one column per class."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["input", "face", "x", "y", "w", "h", "confidence", "crop_x", "crop_y",
                     "crop_w", "crop_h", "label", *classes])
    for r in records:
        box, crop = r["box"] or [""] * 4, r.get("crop_box") or [""] * 4
        confidence = "" if r.get("confidence") is None else f"{r['confidence']:.4f}"
        probs = ([f"{r['probabilities'][c]:.6f}" for c in classes] if r["box"]
                 else [""] * len(classes))
        writer.writerow([r["input"], "" if r["face"] is None else r["face"], *box, confidence,
                         *crop, r["label"] or "", *probs])
    return buf.getvalue()
