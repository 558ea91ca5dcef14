"""The in-memory form of FER2013 (`FERData`) and image decoding (8 bits, 48x48 gray)."""
from __future__ import annotations

import io
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_fer.emotions import EMOTIONS
from keras_fer.errors import UserError

SIZE = 48
SPLITS = ("Training", "PublicTest", "PrivateTest")


class DataWarning(UserWarning):
    """A problem in the data that was worked around (a corrupt image skipped, a folder ignored)."""


def warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)


def to_8bit(img):
    """A PIL image with 8 bits per channel, as every reader of image files needs it.

    16-bit grayscale (PIL modes ``I;16*``, and ``I`` as 16-bit PNGs decode) is scaled by
    ``round(v / 257)``: PIL's own ``convert`` clips it at 255, which turns a face near-white.
    16-bit colour PNGs already come out of PIL scaled to 8 bits. Other modes pass unchanged.
    ValueError if the values do not fit 16 bits.

    Example:
        >>> to_8bit(Image.fromarray(np.array([[65535, 257]], np.uint16))).getdata()[0]
        255
    """
    from PIL import Image

    if not (img.mode == "I" or img.mode.startswith("I;16")):
        return img
    values = np.asarray(img).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise ValueError(f"pixel values {values.min()}..{values.max()} do not fit 16 bits")
    # (v + 128) // 257 == round(v / 257): v / 257 is never exactly half-way for an integer v.
    return Image.fromarray(((values + 128) // 257).astype(np.uint8), "L")


def to_gray48(img) -> np.ndarray:
    """A PIL image of any size/mode -> uint8 (48, 48) grayscale (decoding errors propagate)."""
    from PIL import Image

    img = to_8bit(img).convert("L")
    if img.size != (SIZE, SIZE):
        img = img.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def decode_image(data: bytes) -> np.ndarray:
    """Encoded image bytes -> uint8 (48, 48); raises ValueError with the reason if corrupt."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return to_gray48(img)
    except (OSError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise ValueError(image_error(e)) from None


def image_error(error) -> str:
    """The first line of a PIL error, without the ``<_io.BytesIO object at 0x...>`` that PIL
    writes for an image read from memory (the caller names the file)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return re.sub(r" ?<_io\.\w+ object at 0x[0-9a-fA-F]+>", "", text).strip() or type(error).__name__


def check_labels(labels, paths, num_classes, where="data", source=None) -> None:
    """UserError naming the first image whose label is outside 0..num_classes-1 (a GPU would
    give a silent NaN loss, an evaluation an IndexError): its path, else ``source: row i``."""
    labels = np.asarray(labels)
    bad = np.nonzero((labels < 0) | (labels >= num_classes))[0]
    if bad.size:
        i = int(bad[0])
        name = (paths[i] if paths is not None and len(paths) > i and paths[i]
                else f"{source}: row {i}" if source else f"row {i}")
        raise UserError(f"{name}: label {int(labels[i])} is outside 0..{num_classes - 1} "
                        f"({bad.size} such label(s) in {where})")


@dataclass
class FERData:
    """FER2013 (or any data set in its form) in memory.

    Args:
        images: uint8 (N, 48, 48).
        labels: int64 (N,), index into ``classes``.
        splits: str (N,): "Training" | "PublicTest" | "PrivateTest".
        classes: class names (EMOTIONS by default).
        paths: str (N,): the source file, or "file.csv:line", of each image.
        skipped: "path: reason" of each file skipped as corrupt.

    Example:
        >>> x, y = data.split("Training")
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    classes: tuple = EMOTIONS
    paths: np.ndarray = None
    skipped: list = field(default_factory=list)

    def __post_init__(self):
        self.images = np.asarray(self.images, dtype=np.uint8).reshape(-1, SIZE, SIZE)
        n = len(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(n)
        self.splits = np.asarray(self.splits, dtype=str).reshape(n)
        self.classes = tuple(str(c) for c in self.classes)
        if self.paths is None:
            self.paths = np.array([""] * n)
        self.paths = np.asarray(self.paths, dtype=str).reshape(n)
        self.skipped = list(self.skipped)

    def __len__(self):
        return len(self.labels)

    def split(self, name):
        """(images, labels) of one split; UserError naming the split if it is unknown."""
        if name not in SPLITS:
            raise UserError(f"unknown split {name!r} (known: {', '.join(SPLITS)})")
        mask = self.splits == name
        return self.images[mask], self.labels[mask]

    def select(self, idx) -> "FERData":
        """The images at ``idx`` (an index array or a boolean mask), same classes."""
        idx = np.asarray(idx)
        return FERData(self.images[idx], self.labels[idx], self.splits[idx], self.classes,
                       self.paths[idx], list(self.skipped))

    def counts(self) -> dict:
        """{split: [count per class]} for the splits present, in SPLITS order."""
        out = {}
        for name in SPLITS:
            mask = self.splits == name
            if mask.any():
                out[name] = np.bincount(self.labels[mask], minlength=len(self.classes)).tolist()
        return out


class Quota:
    """Counts items per key and says whether one more fits: ``per_class`` limits everywhere.

    Example:
        >>> q = Quota(2); [q.take("a") for _ in range(3)]
        [True, True, False]
    """

    def __init__(self, limit=None):
        self.limit, self.seen = limit, {}

    def take(self, key) -> bool:
        count = self.seen.get(key, 0)
        if self.limit is not None and count >= self.limit:
            return False
        self.seen[key] = count + 1
        return True


class Progress:
    """Prints ``label: done/total`` to stderr at most every ``every`` seconds (when total is large
    or unknown: None)."""

    def __init__(self, label: str, total=None, enabled: bool = True, every: float = 2.0):
        self.label, self.total, self.every = label, total, every
        self.enabled = enabled and (total is None or total >= 2000)
        self.start = self.last = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every or done == self.total):
            self.last = now
            of = "" if self.total is None else f"/{self.total}"
            print(f"{self.label}: {done}{of} ({now - self.start:.0f} s)", file=sys.stderr)


def default_data_path() -> Path:
    """``$FER2013_DATA`` or ``data/`` in the current directory."""
    return Path(os.environ.get("FER2013_DATA") or "data")


def default_source(option="--src") -> Path:
    """Where raw FER2013 is read from when none is named: ``$FER2013_SRC``.

    The library knows no location of its own (``make data`` passes the Makefile's
    ``FER2013_SRC``), so without the variable this is a UserError that says to pass ``option``,
    the CLI option that names the source, or to set FER2013_SRC.
    """
    src = os.environ.get("FER2013_SRC")
    if not src:
        raise UserError(f"no FER2013 source given: pass {option} PATH (fer2013.csv, train.csv, "
                        "an image folder or its .zip) or set FER2013_SRC")
    return Path(src)
