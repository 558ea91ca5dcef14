"""Atomic file writes: write to a temporary file beside the target, then rename.

A kill in the middle never leaves a half-written file under the final name, and never
destroys the previous version.
"""
import contextlib
import json
import math
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it over ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=directory)
    os.close(fd)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path, obj):
    """``obj`` as strict JSON: NaN and infinities (which JSON has no word for) become null."""
    text = json.dumps(_strict(obj), indent=2, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")


def _strict(o):
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if hasattr(o, "tolist"):  # NumPy scalars and arrays appear in reports
        return _strict(o.tolist())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def check_out_dir(path) -> Path:
    """UserError naming ``path`` unless it is, or can become, a folder this process can write
    into: none of its parents may be a regular file, and the nearest existing one must be
    writable. Creates nothing: call it before any work, so that a bad ``--out`` fails at once.
    """
    from keras_fer.errors import UserError

    path = Path(path)
    for folder in (path, *path.absolute().parents):
        if folder.exists():
            if not folder.is_dir():
                raise UserError(f"{path}: cannot write there: {folder} is a file, not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise UserError(f"{path}: cannot write there: {folder} is read-only")
            return path
    return path


def ensure_out_dir(path) -> Path:
    """``check_out_dir`` then create the folder (and its parents)."""
    path = check_out_dir(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_json(path):
    from keras_fer.errors import UserError, UserFileNotFound

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UserFileNotFound(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
