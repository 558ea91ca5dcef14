"""Readers for every form of FER2013: Kaggle CSV, image folders (extracted or zipped), fer2013.npz.

Each reader returns a `FERData`. Image folders are first *scanned* (`scan_images`: class and split
of every image from its path, without decoding anything), then decoded.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from keras_fer.data.classes import (
    CLASS_NAMES,
    HOW_TO_NAME,
    classes_of,
    code_key,
    describe_codes,
    match_class,
    parse_classes,
)
from keras_fer.data.core import (
    SIZE,
    SPLITS,
    FERData,
    Progress,
    Quota,
    check_labels,
    decode_image,
    warn,
)
from keras_fer.errors import UserError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
NPZ_NAME = "fer2013.npz"
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv", "train.csv")
_PREFIX_SPLIT = {"training": "Training", "publictest": "PublicTest", "privatetest": "PrivateTest"}
_VAL_DIRS = ("val", "valid", "validation", "publictest", "dev")
_SPLIT_DIRS = {"train": "Training", "training": "Training", "privatetest": "PrivateTest",
               **{d: "PublicTest" for d in _VAL_DIRS}}


@dataclass(frozen=True)
class Entry:
    """One image found by `scan_images`: its member name (relative path), class index, split."""

    name: str
    label: int
    split: str


def _split_of(parts, has_val_dir: bool) -> str:
    """Split of an image: file-name prefix (Training_, PublicTest_, PrivateTest_), else a split
    folder (train/, val/ -> PublicTest, test/ -> PublicTest, or PrivateTest beside a val/), else
    Training."""
    prefix = parts[-1].split("_", 1)[0].lower()
    if prefix in _PREFIX_SPLIT and "_" in parts[-1]:
        return _PREFIX_SPLIT[prefix]
    for folder in reversed(parts[:-2]):
        key = folder.lower()
        if key == "test":
            return "PrivateTest" if has_val_dir else "PublicTest"
        if key in _SPLIT_DIRS:
            return _SPLIT_DIRS[key]
    return "Training"


def index_names(names, source, coding=None) -> list:
    """Entries for the image names (POSIX relative paths) whose parent folder is a class.

    A folder is a class by its name (synonyms, any case), or by ``coding`` (`parse_classes`).
    Unknown named folders are skipped with one warning each; a numbered folder that ``coding``
    does not cover is a UserError (numbers are never guessed). Sorted by name.
    """
    names = sorted(n for n in names if n.lower().endswith(IMAGE_EXTS))
    parts_list = [[p for p in n.split("/") if p not in ("", ".")] for n in names]
    keep = [i for i, parts in enumerate(parts_list)
            if not any(p.startswith(".") or p == "__MACOSX" for p in parts)]
    names, parts_list = [names[i] for i in keep], [parts_list[i] for i in keep]
    has_val = any(p.lower() in _VAL_DIRS for parts in parts_list for p in parts[:-2])
    entries, unknown, numbered = [], {}, {}
    for name, parts in zip(names, parts_list):
        folder = parts[-2] if len(parts) >= 2 else ""
        label = _folder_label(folder, coding)
        if label is None:
            counts = numbered if code_key(folder).isdigit() else unknown
            counts[folder or "."] = counts.get(folder or ".", 0) + 1
            continue
        entries.append(Entry(name, label, _split_of(parts, has_val)))
    if numbered:
        folders = sorted(numbered, key=code_key)
        what = ("numbers, which are never guessed as emotions: " + HOW_TO_NAME if coding is None
                else f"not in the coding given ({describe_codes(coding)})")
        raise UserError(f"{source}: {sum(numbered.values())} image(s) in class folder(s) "
                        f"{', '.join(map(repr, folders))}: {what}")
    for folder, n in sorted(unknown.items()):
        warn(f"{source}: skipped {n} image(s) in folder {folder!r}: not an emotion "
             f"(known: {', '.join(CLASS_NAMES)} and synonyms)")
    return entries


def _folder_label(folder, coding):
    """Index into CLASS_NAMES of a class folder: the coding first, then its name; or None."""
    if not folder:
        return None
    if coding is not None and code_key(folder) in coding:
        return coding[code_key(folder)]
    return None if code_key(folder).isdigit() else match_class(folder)


def scan_images(path, classes=None) -> list:
    """The `Entry` list of an image folder or a .zip of one, without decoding any image.
    ``classes``: the coding of numbered class folders (`parse_classes`: a preset or k=name,...)."""
    path, coding = Path(path), parse_classes(classes)
    if path.is_dir():
        names = []
        for root, dirs, files in os.walk(path):
            rel = Path(root).relative_to(path).as_posix()
            names += [f if rel == "." else f"{rel}/{f}" for f in files]
        return index_names(names, path, coding)
    try:
        with zipfile.ZipFile(path) as zf:
            return index_names([i.filename for i in zf.infolist() if not i.is_dir()], path, coding)
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"{path}: cannot read zip file: {e}") from None


def member_prefix(path) -> str:
    """What precedes an image's name in messages and ``FERData.paths``: ``folder/`` (so
    ``folder/happy/1.png``), or ``fer2013.zip:`` for a zip member
    (``fer2013.zip:train/happy/Training_1.jpg``)."""
    path = Path(path)
    return f"{path}/" if path.is_dir() else f"{path}:"


def limit_per_class(entries, per_class):
    """The first ``per_class`` entries of each (split, class), in the given (sorted) order."""
    quota = Quota(per_class)
    return [e for e in entries if quota.take((e.split, e.label))]


def read_images(path, *, per_class=None, strict=False, verbose=True, classes=None) -> FERData:
    """Decode an image folder or zip (class sub-folders; split from file-name prefix / folder).
    ``classes``: the coding of numbered class folders (see `scan_images`)."""
    path = Path(path)
    entries = limit_per_class(scan_images(path, classes), per_class)
    if not entries:
        raise UserError(f"{path}: no images in emotion class folders "
                        f"(expected e.g. train/happy/Training_1.jpg or happy/1.png)")
    zf = None if path.is_dir() else zipfile.ZipFile(path)
    prefix = member_prefix(path)

    def read(name):
        if zf is not None:
            return zf.read(name)
        with open(path / name, "rb") as f:
            return f.read()

    def work(entry):
        try:
            return decode_image(read(entry.name)), None
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            return None, f"{prefix}{entry.name}: {e}"

    images = np.zeros((len(entries), SIZE, SIZE), np.uint8)
    ok = np.ones(len(entries), bool)
    skipped = []
    progress = Progress(f"decoding {path.name}", len(entries), verbose)
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    try:
        for i, (img, problem) in enumerate(pool.map(work, entries)):
            if problem is None:
                images[i] = img
            else:
                if strict:
                    raise UserError(f"corrupt image {problem}")
                warn(f"skipped corrupt image {problem}")
                skipped.append(problem)
                ok[i] = False
            if i % 1000 == 999 or i == len(entries) - 1:
                progress.update(i + 1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # strict / Ctrl-C: drop the queued work
        if zf is not None:
            zf.close()
    labels = [e.label for e in entries]
    data = FERData(images, labels, [e.split for e in entries], classes_of(labels),
                   [prefix + e.name for e in entries], skipped)
    return data if ok.all() else data.select(np.nonzero(ok)[0])


def read_csv(path, *, per_class=None, verbose=True, classes=None) -> FERData:
    """Kaggle ``fer2013.csv`` (emotion, pixels, Usage) or ``train.csv`` (no Usage: Training).

    The emotion column is in FER2013's coding (0 angry .. 6 neutral) unless ``classes`` names
    another (`parse_classes`). A row with the wrong pixel count, a non-number, or a label
    outside the coding is a UserError naming the file and line. With ``per_class``, only the
    first N rows of each (split, class) are parsed.
    """
    coding = parse_classes("fer2013" if classes is None else classes)
    with _open_csv(Path(path)) as (f, path):
        try:
            return _read_rows(f, path, per_class, verbose, coding)
        except (UnicodeDecodeError, csv.Error) as e:
            raise UserError(f"{path}: not a text CSV file ({e})") from None


def _read_rows(f, path, per_class, verbose, coding) -> FERData:
    """Parse the rows of an open FER2013 CSV (see `read_csv`)."""
    reader = csv.reader(f)
    header = [h.strip().lower() for h in next(reader, [])]
    if "emotion" not in header or "pixels" not in header:
        raise UserError(f"{path}: expected columns emotion,pixels[,Usage], found {','.join(header)}")
    ie, ip = header.index("emotion"), header.index("pixels")
    iu = header.index("usage") if "usage" in header else None
    images, labels, splits, paths, quota = [], [], [], [], Quota(per_class)
    progress = Progress(f"reading {path.name} rows", None, verbose)
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        where = f"{path}: line {line}"
        if len(row) != len(header):
            raise UserError(f"{where}: {len(row)} fields, expected {len(header)}")
        label = _parse_label(row[ie], where, coding)
        split = "Training" if iu is None else row[iu].strip()
        if split not in SPLITS:
            raise UserError(f"{where}: Usage {split!r} is not one of {', '.join(SPLITS)}")
        if not quota.take((split, label)):
            continue
        images.append(_parse_pixels(row[ip], where))
        labels.append(label)
        splits.append(split)
        paths.append(f"{path}:{line}")
        if line % 1000 == 0:
            progress.update(line - 1)
    if not labels:
        raise UserError(f"{path}: no rows")
    return FERData(np.stack(images), labels, splits, classes_of(labels), paths, [])


def csv_in_zip(zf: zipfile.ZipFile):
    """The member of a zip that is a FER2013 CSV (by name, in CSV_NAMES order), or None."""
    by_name = {PurePosixPath(n).name.lower(): n for n in zf.namelist() if not n.startswith("__MACOSX")}
    return next((by_name[c] for c in CSV_NAMES if c in by_name), None)


@contextlib.contextmanager
def _open_csv(path):
    """Yield (text file, display path) of a CSV, or of the FER2013 CSV inside a .zip."""
    zf = None
    try:
        if path.suffix.lower() == ".zip":
            zf = zipfile.ZipFile(path)
            member = csv_in_zip(zf)
            if member is None:
                raise UserError(f"{path}: no images and no {' / '.join(CSV_NAMES)} inside")
            f, shown = io.TextIOWrapper(zf.open(member), encoding="utf-8", newline=""), path / member
        else:
            f, shown = open(path, newline="", encoding="utf-8"), path
    except (OSError, zipfile.BadZipFile) as e:
        if zf is not None:
            zf.close()
        raise UserError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        yield f, shown
    finally:
        f.close()
        if zf is not None:
            zf.close()


def _parse_label(text, where, coding) -> int:
    try:
        label = int(text.strip())
    except ValueError:
        raise UserError(f"{where}: emotion {text!r} is not a number") from None
    if code_key(label) not in coding:
        raise UserError(f"{where}: emotion label {label} outside {describe_codes(coding)}")
    return coding[code_key(label)]


def _parse_pixels(text, where) -> np.ndarray:
    try:  # fast path (~10x faster than split); any irregularity falls through to the checks below
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pixels = np.fromstring(text, dtype=np.int64, sep=" ")
    except (ValueError, DeprecationWarning):
        pixels = None
    if pixels is None or pixels.size != SIZE * SIZE:
        values = text.split()
        if len(values) != SIZE * SIZE:
            raise UserError(f"{where}: {len(values)} pixel values, expected {SIZE * SIZE}")
        bad = next((v for v in values if not v.isdigit()), None)
        if bad is not None:
            raise UserError(f"{where}: pixel value {bad!r} is not a number 0..255")
        pixels = np.array(values, dtype=np.int64)
    if pixels.min() < 0 or pixels.max() > 255:
        raise UserError(f"{where}: pixel values must be 0..255, found {pixels.min()}..{pixels.max()}")
    return pixels.astype(np.uint8).reshape(SIZE, SIZE)


_NPZ_KEYS = ("images", "labels", "splits", "classes", "paths")


def save_npz(data: FERData, path) -> None:
    """Write ``data`` as an uncompressed .npz, atomically."""
    from keras_fer.io_utils import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=data.images, labels=data.labels, splits=data.splits,
                     classes=np.array(data.classes), paths=data.paths,
                     skipped=np.array(data.skipped, dtype=str))


def read_npz(path) -> FERData:
    """A ``fer2013.npz`` written by `save_npz` (``python -m keras_fer.data prepare``)."""
    try:
        if os.path.getsize(path) == 0:  # numpy answers it with a bare EOFError
            raise UserError(f"{path}: empty file (0 bytes): not a keras_fer data file (write "
                            "one with python -m keras_fer.data prepare)")
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _NPZ_KEYS if k not in z.files]
            if missing:
                raise UserError(f"{path}: not a keras_fer data file (missing {', '.join(missing)})")
            arrays = {k: z[k] for k in z.files}
    except UserError:  # a ValueError too: it already names the file and the fault
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise UserError(f"{path}: cannot read data file: {e}") from None
    _check_npz(path, arrays)
    return FERData(arrays["images"], arrays["labels"], arrays["splits"],
                   tuple(arrays["classes"].tolist()), arrays["paths"],
                   arrays.get("skipped", np.array([], str)).tolist())


def _check_npz(path, arrays) -> None:
    """UserError naming ``path`` and the array at fault in a .npz not made by ``save_npz``
    (a hand-made one): images (N, 48, 48) of 0..255, N labels, splits and paths, every label
    a class index."""
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
        raise UserError(f"{path}: images of shape {images.shape}, expected (N, {SIZE}, {SIZE}) "
                        f"grayscale {SIZE}x{SIZE}")
    if images.dtype != np.uint8 and (images.dtype.kind not in "iuf" or images.size and (
            images.min() < 0 or images.max() > 255 or np.any(images != np.round(images)))):
        raise UserError(f"{path}: images must be whole numbers 0..255 (uint8), got {images.dtype}")
    n = len(images)
    for key in ("labels", "splits", "paths"):
        if arrays[key].shape != (n,):
            raise UserError(f"{path}: {key} of shape {arrays[key].shape}, expected ({n},): one "
                            "per image")
    if labels.dtype.kind not in "iu":
        raise UserError(f"{path}: labels must be integers (class indices), got {labels.dtype}")
    classes = arrays["classes"]
    check_labels(labels, None, classes.size, f"a file of {classes.size} class names", path)
