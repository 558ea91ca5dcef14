"""Prediction on image files: find inputs, read, detect faces, classify."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_fer import rundir
from keras_fer.errors import UserError
from keras_fer.predict.faces import crop_faces
from keras_fer.predict.preprocess import faces_uint8

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"}
IMAGES_STEM = "predictions"  # --out/predictions.csv and .json: the image inputs' results


def kind_of(path) -> str | None:
    suffix = Path(path).suffix.lower()
    return "image" if suffix in IMAGE_EXTS else "video" if suffix in VIDEO_EXTS else None


def expand_inputs(inputs) -> tuple:
    """INPUT arguments -> ([(path, "image" | "video"), ...], [error line, ...]).

    A folder gives its image and video files (recursively, sorted); a missing path, a folder
    without any, or a file of another type is an error line naming it.
    """
    items, errors = [], []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and kind_of(p))
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
    except (OSError, ValueError, SyntaxError) as e:
        raise UserError(f"{path}: cannot read image ({image_error(e)})") from None


class Predictor:
    """A run's model with its class names, a face detector and a crop margin.

    Args:
        run_dir: a run directory (``keras_fer.rundir``).
        detector: a callable ``rgb -> boxes`` (``keras_fer.predict.faces.make_detector``), or
            None when the inputs are face crops already (``--no-detect``).
        margin: fraction of the face box added on each side before cropping.

    Example::

        p = Predictor("runs/best", make_detector("haar"))
        records = p.image("photo.jpg")
    """

    def __init__(self, run_dir, detector=None, margin=0.2):
        self.model = rundir.load_model(run_dir)
        self.classes = rundir.class_names(run_dir)
        self.detector = detector
        self.margin = margin

    def faces(self, rgb) -> tuple:
        """(boxes (x, y, w, h), uint8 faces (n, 48, 48)) of one RGB image, largest first."""
        if self.detector is None:
            h, w = rgb.shape[:2]
            return [(0, 0, w, h)], faces_uint8([rgb])
        return crop_faces(rgb, self.detector(rgb), self.margin)

    def proba(self, faces) -> np.ndarray:
        """Softmax probabilities (n, classes) of uint8 48x48 faces."""
        from keras_fer.evaluate import predict_proba

        if len(faces) == 0:
            return np.zeros((0, len(self.classes)))
        return np.asarray(predict_proba(self.model, faces))

    def record(self, probs, box, **fields) -> dict:
        return dict(fields, box=[int(v) for v in box], label=self.classes[int(np.argmax(probs))],
                    probabilities={c: float(p) for c, p in zip(self.classes, probs)})

    def image(self, path) -> list:
        """One record per face found in an image file ({"input", "face", "box", "label",
        "probabilities"}), or one record with ``"label": None`` when no face is found."""
        boxes, faces = self.faces(read_image(path))
        if not boxes:
            return [{"input": str(path), "face": None, "box": None, "label": None,
                     "note": "no face found"}]
        return [self.record(p, b, input=str(path), face=i)
                for i, (p, b) in enumerate(zip(self.proba(faces), boxes))]


def records_csv(records, classes) -> str:
    """CSV text of image records: input, face, x, y, w, h, label, one column per class."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["input", "face", "x", "y", "w", "h", "label", *classes])
    for r in records:
        box = r["box"] or ["", "", "", ""]
        probs = ([f"{r['probabilities'][c]:.6f}" for c in classes] if r["box"]
                 else [""] * len(classes))
        writer.writerow([r["input"], "" if r["face"] is None else r["face"], *box,
                         r["label"] or "", *probs])
    return buf.getvalue()
