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
    """Yield a temporary path next to ``path``; on success rename it over ``path``. A full
    disk is a UserError naming the folder (``disk_full_is_user_error``), the temporary file
    removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    with disk_full_is_user_error(directory):
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=directory)
    os.close(fd)
    try:
        with disk_full_is_user_error(directory):  # the finally below removes the partial file
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


_held_locks = {}  # lock file path -> its open file, held until release_lock or process exit


def hold_lock(path, what) -> bool:
    """Take the lock file ``path`` for this process (an advisory ``flock`` holding this
    process's id) until ``release_lock(path)`` or the process ends; True if newly taken. A
    lock held by another live process is a UserError naming ``what`` and that process; a lock
    file left by a killed one does not block (the kernel drops a dead process's ``flock``).
    """
    import fcntl

    from keras_fer.errors import UserError

    path = os.path.abspath(path)
    if path in _held_locks:
        return False
    while True:
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise UserError(f"{what}: in use by another process (pid {pid}, lock {path}); wait "
                            "for it to end, or choose another folder") from None
        try:  # the holder we waited for may have deleted the file: lock the one at ``path``
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        f.close()
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    _held_locks[path] = f
    return True


def release_lock(path) -> None:
    """Give back a lock that ``hold_lock`` took (deleting its file); nothing if not held."""
    f = _held_locks.pop(os.path.abspath(path), None)
    if f is not None:
        with contextlib.suppress(OSError):
            os.remove(f.name)
        f.close()


@contextlib.contextmanager
def disk_full_is_user_error(folder, *partial):
    """A full disk (ENOSPC, or a quota) inside the block becomes a UserError naming ``folder``,
    after ``partial`` (files or folders the block was writing) are removed."""
    import shutil

    from keras_fer.errors import DiskFull, is_disk_full

    try:
        yield
    except Exception as e:  # noqa: BLE001 (re-raised unless it says the disk is full)
        if not isinstance(e, DiskFull) and not is_disk_full(e):
            raise
        for p in partial:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.lexists(p):
                with contextlib.suppress(OSError):
                    os.remove(p)
        # an inner block's DiskFull is named again: the outer folder is the one the user
        # chose (an inner one may be a staging folder, removed by now)
        raise DiskFull(f"{folder}: no space left on the device (disk full); the partial files "
                       "were removed: free some space and run again") from None


def stage_path(out, pid) -> Path:
    """The staging folder beside ``out`` where process ``pid`` ("*": any) builds a whole new
    ``out`` (a release, an ensemble) before ``swap_into_place``."""
    out = Path(out)
    return out.parent / f".{out.name}.tmp-{pid}"


def swap_into_place(stage, out) -> None:
    """Rename ``stage`` to ``out``; an old ``out`` is moved aside first and deleted last, so at
    every moment one complete folder exists and nothing of the old one is left in the new."""
    import shutil

    stage, out = Path(stage), Path(out)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    stage.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def remove_stale_stages(out) -> list:
    """A build killed outright (SIGTERM, SIGKILL, a lost session) cannot run its ``finally``
    and leaves its staging folder ``.NAME.tmp-PID`` beside ``out``; the next build removes
    those whose process is gone (never a live one's). Returns the removed folders."""
    import shutil

    out = Path(out)
    removed = []
    for stage in sorted(out.parent.glob(stage_path(out, "*").name)):
        pid = stage.name.rsplit("-", 1)[1]
        if pid.isdigit() and stage.is_dir() and not process_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    return removed


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
