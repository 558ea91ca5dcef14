"""`load`: find the source's form, read it (or its cached decoded arrays), print a summary."""
from __future__ import annotations

import hashlib
import os
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from keras_fer.data.classes import parse_classes
from keras_fer.data.core import FERData, Quota, default_data_path, warn
from keras_fer.data.readers import (
    CSV_NAMES,
    IMAGE_EXTS,
    NPZ_NAME,
    csv_in_zip,
    read_csv,
    read_images,
    read_npz,
    save_npz,
)
from keras_fer.errors import UserError, UserFileNotFound

CACHE_VERSION = 2  # 2: contempt is its own class, numbered folders need a coding, zip:member
CACHE_MIN_IMAGES = 1000  # smaller reads decode about as fast as the cache loads: not cached
HOW_TO_GET = ("run `make data` (it prepares data/ from $FER2013_SRC, default "
              "../shared/datasets/fer2013.zip), or set FER2013_SRC / pass --data PATH "
              "(fer2013.csv, train.csv, an image folder or its .zip)")


def default_cache_dir() -> Path:
    """``$KERAS_FER_CACHE`` or ``~/.cache/keras_fer``."""
    return Path(os.environ.get("KERAS_FER_CACHE") or Path.home() / ".cache" / "keras_fer")


def find_source(path=None):
    """(kind, file) of a data path: kind is "npz", "csv", "images" (a folder) or "zip"
    (images or a CSV inside: `_zip_kind` tells which; a cache hit never needs to open it).

    A missing path is a UserError that says where data was looked for and how to get it.
    """
    given = path is not None
    path = Path(path) if given else default_data_path()
    if not path.exists():
        where = f"{path}" if given else f"{path} ($FER2013_DATA or data/ in {Path.cwd()})"
        raise UserFileNotFound(f"no FER2013 data at {where}: {HOW_TO_GET}")
    if path.is_dir():
        if (path / NPZ_NAME).is_file():
            return "npz", path / NPZ_NAME
        for name in CSV_NAMES:
            if (path / name).is_file():
                return "csv", path / name
        return "images", path
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return "npz", path
    if suffix == ".csv":
        return "csv", path
    if suffix == ".zip":  # images or a CSV inside: told apart only when it is decoded
        return "zip", path
    raise UserError(f"{path}: unsupported data file (expected .csv, .zip, .npz or a folder)")


def _zip_kind(path) -> str:
    """"images" for a zip of image folders, "csv" for a zip holding fer2013.csv / train.csv."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if any(n.lower().endswith(IMAGE_EXTS) for n in names) or csv_in_zip(zf) is None:
                return "images"
            return "csv"
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"{path}: cannot read zip file: {e}") from None


def source_fingerprint(path) -> str:
    """Hash of the size and mtime of the file, or of every file below a folder: it changes
    whenever the data changes."""
    path = Path(path).resolve()
    h = hashlib.sha1(f"v{CACHE_VERSION}".encode())
    if path.is_dir():
        for root, dirs, files in sorted(os.walk(path)):
            dirs.sort()
            for name in sorted(files):
                st = os.stat(os.path.join(root, name))
                h.update(f"{os.path.join(root, name)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    else:
        st = path.stat()
        h.update(f":{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def _cache_prefix(path, per_class, cache_dir, classes) -> Path:
    path = Path(path).resolve()
    where = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = path.name.replace(".", "_") or "data"
    pc = "" if per_class is None else f"-pc{int(per_class)}"
    coding = parse_classes(classes)
    if coding is not None:  # the same folder read with another coding has other labels
        pc += "-c" + hashlib.sha1(repr(sorted(coding.items())).encode()).hexdigest()[:8]
    return Path(cache_dir or default_cache_dir()) / f"{stem}-{where}{pc}"


def cache_file(path, per_class=None, cache_dir=None, classes=None) -> Path:
    """Where the decoded arrays of ``path`` (read with ``per_class`` and the ``classes``
    coding) are cached: named by the absolute path (per_class, coding), and by the size and
    mtime of the data."""
    prefix = _cache_prefix(path, per_class, cache_dir, classes)
    return prefix.with_name(f"{prefix.name}-{source_fingerprint(path)}.npz")


def _write_cache(data, cached: Path) -> None:
    """Save, then delete the stale versions of the same source (same path, older data)."""
    try:
        save_npz(data, cached)
    except OSError as e:
        warn(f"cannot write cache {cached}: {e.strerror or e}")
        return
    prefix = cached.name[: -len("-000000000000.npz")]
    for old in cached.parent.glob(f"{prefix}-*.npz"):
        if old != cached and re.fullmatch(re.escape(prefix) + r"-[0-9a-f]{12}\.npz", old.name):
            old.unlink(missing_ok=True)


def limit_rows(data: FERData, per_class) -> FERData:
    """The first ``per_class`` images of each (split, class) in sorted order of paths."""
    quota = Quota(per_class)
    keep = [i for i in np.argsort(data.paths, kind="stable")
            if quota.take((data.splits[i], data.labels[i]))]
    return data.select(np.sort(np.array(keep, dtype=np.int64)))


def load(path=None, *, strict=False, per_class=None, cache=True, cache_dir=None,
         verbose=True, classes=None) -> FERData:
    """Read FER2013 from any supported form into a `FERData`.

    Args:
        path: fer2013.csv | train.csv | the image-folder release (folder or .zip) | a folder of
            class sub-folders | a folder holding fer2013.npz; None: `default_data_path()`.
        strict: a corrupt image is a UserError instead of a warning and a skip.
        per_class: read at most this many images per class per split (the first in sorted
            order of file names, or of rows for a CSV), without decoding the others.
        cache: reuse / write decoded arrays as .npz under ``cache_dir`` (default
            `default_cache_dir()`), keyed by absolute source path, size and mtime (only reads
            of at least CACHE_MIN_IMAGES images; a newer version replaces the stale one).
        verbose: print progress and a one-line summary to stderr.
        classes: the coding of numbered class folders and of a CSV's emotion column: a preset
            (fer2013, raf-db, ck+, affectnet, fer+) or ``"1=surprise,2=fear,..."``
            (`keras_fer.data.classes.parse_classes`). None: named folders only (a numbered
            one is a UserError), FER2013's coding for a CSV. A prepared .npz already holds
            named classes and ignores it.

    Example:
        >>> data = load("../shared/datasets/fer2013.zip", per_class=40)
        >>> x_train, y_train = data.split("Training")
    """
    if per_class is not None and int(per_class) < 1:
        raise UserError(f"per_class must be >= 1, got {per_class}")
    parse_classes(classes, "classes")  # a bad coding fails before any reading
    kind, source = find_source(path)
    start = time.monotonic()
    data, note = None, ""
    if kind == "npz":
        data = read_npz(source)
        if per_class is not None:
            data = limit_rows(data, per_class)
    else:
        cached = cache_file(source, per_class, cache_dir, classes) if cache else None
        if cached is not None and cached.is_file():
            try:
                data, note = read_npz(cached), " (from cache)"
            except UserError as e:
                warn(f"ignoring unreadable cache file: {e}")
        if data is None:
            if kind == "zip":
                kind = _zip_kind(source)
            reader = read_csv if kind == "csv" else read_images
            opts = {} if kind == "csv" else {"strict": strict}
            data = reader(source, per_class=per_class, verbose=verbose, classes=classes, **opts)
            if cached is not None and len(data) >= CACHE_MIN_IMAGES:
                _write_cache(data, cached)
    if strict and data.skipped:
        raise UserError(f"corrupt image {data.skipped[0]}")
    if verbose:
        print(summary_line(source, data, time.monotonic() - start) + note, file=sys.stderr)
    return data


def summary_line(source, data: FERData, seconds: float) -> str:
    parts = ", ".join(f"{name} {sum(c):,}" for name, c in data.counts().items())
    return (f"loaded {len(data):,} images from {source} ({parts}); "
            f"{len(data.skipped)} corrupt skipped; {seconds:.1f} s")
