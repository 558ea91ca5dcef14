"""The run directory: one format, written by train (and tuning), read by evaluate, visualize,
export and predict.

    RUN_DIR/
      config.json      the fully resolved TrainConfig (keras_fer.config)
      meta.json        {"classes": [...], "input_shape": [H, W, C], "backend": ..., "keras": ...,
                        "best_epoch": int, "best": {metric: value}, "train_seconds": float,
                        "distribution": {"kind", "engine", "devices", "processes"}}
      model.keras      the best model (by config.monitor on the validation split)
      history.csv      one row per epoch: epoch, loss, accuracy, macro_f1, average_accuracy,
                       val_..., lr (the optimizer's rate at the epoch's end)
      curves.png       loss / accuracy / macro-F1, train and validation
      summary.json     what the run ended with (best epoch, metrics, wall time)
      logs/            TensorBoard
      eval/            written by ``python -m keras_fer.evaluate``: report.json, confusion PNGs
      export/          written by ``python -m keras_fer.export``
      vis/             written by ``python -m keras_fer.visualize``

A release (``keras_fer.release``: a run directory with its reports, export and model card
README.md, marked by release.json) is read-only: evaluate and export write a release's new
reports to ``runs/eval/<name>`` and ``runs/export/<name>`` unless told ``--out`` elsewhere, and
never into it without ``--force`` (``output_dir``).

Models take float32 images in [0, 255] of shape ``meta["input_shape"]`` (grayscale, 1 channel);
each model does its own scaling inside and returns logits (apply softmax for probabilities).
"""
from __future__ import annotations

import csv
import io
import math
import os
import shutil
import zipfile
from pathlib import Path

from keras_fer.errors import UserError, UserFileNotFound, one_line
from keras_fer.io_utils import check_out_dir, hold_lock, read_json, release_lock, write_json, write_text

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
META_FILE = "meta.json"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"
RELEASE_FILE = "release.json"  # the marker keras_fer.release writes
CARD_FILE = "README.md"  # a release's model card
CARD_TITLE = "# Model card"  # how a card begins (keras_fer.release.card)
RESUME_FILE = Path("ckpt") / "resume.npz"


def check_run_dir(run_dir) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserFileNotFound(f"{run_dir}: no such run directory (train one with python -m keras_fer.train)")
    if not (run_dir / MODEL_FILE).is_file():
        raise UserError(f"{run_dir}: not a run directory ({MODEL_FILE} is missing)")
    # Keras would answer "File not found" for a file that is there but is no .keras archive
    if not zipfile.is_zipfile(run_dir / MODEL_FILE):
        raise UserError(f"{run_dir / MODEL_FILE}: corrupt model file (not a .keras zip archive)")
    return run_dir


def out_state(path) -> str:
    """What an output folder holds: "new" (absent or empty), "unfinished" (a run that stopped
    before its end and can be resumed), "finished" (a run), "release" (a released model) or
    "other" (files that are not a run's)."""
    path = Path(path)
    if not path.is_dir() or not any(path.iterdir()):
        return "new"
    if is_release(path):
        return "release"
    if (path / RESUME_FILE).is_file():
        return "unfinished"
    if (path / SUMMARY_FILE).is_file() or (path / META_FILE).is_file():
        return "finished"
    if (path / CONFIG_FILE).is_file() or any(path.glob("fold[0-9]*")):
        return "unfinished"
    return "other"


def aside_path(path) -> Path:
    """Where ``claim_out(force=True)`` keeps the contents it replaces until the new run ends."""
    path = Path(path)
    return path.parent / f".{path.name}.replaced"


def lock_path(path) -> Path:
    """The lock file of a run being trained into ``path`` (``claim_out``), beside it."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


def read_resume_meta(file) -> dict:
    """The ``meta`` record of a resume state file (``RESUME_FILE``), read without Keras: the
    one reader (``keras_fer.train.callbacks.ResumeState.read_meta`` and ``resume_error``)."""
    import json

    import numpy as np

    with np.load(file) as z:
        return json.loads(str(z["meta"]))


def resume_error(path):
    """Why ``path``'s resume state (``RESUME_FILE``) cannot be read, or None (none, or sound).
    A training killed while the disk was full, or a copied half, leaves a truncated file."""
    file = Path(path) / RESUME_FILE
    if not file.is_file():
        return None
    try:
        read_resume_meta(file)["epoch"]
    except Exception as e:  # noqa: BLE001 (BadZipFile, EOFError, ValueError, KeyError, pickle)
        return f"{file}: corrupt resume state ({type(e).__name__}: {one_line(e) or 'empty'})"
    return None


def resumes(path, config: dict) -> bool:
    """Whether a run of ``config`` (a ``TrainConfig.to_dict()``) continues the run whose
    config.json is in ``path``: the same ``keras_fer.config.resume_settings`` (or none saved)."""
    import json

    from keras_fer.config import resume_settings

    saved_path = Path(path) / CONFIG_FILE
    if not saved_path.is_file():
        return True
    saved = read_json(saved_path)
    mine = json.loads(json.dumps(config, default=str))  # tuples -> lists, as in the file
    return isinstance(saved, dict) and resume_settings(saved) == resume_settings(mine)


def claim_out(path, force=False, *, config=None, dry_run=False):
    """Check that a run may be written into ``path``, before any work is done.

    A new or empty folder may; an unfinished run may when it has ``config``'s settings (it is
    resumed; ``config=None``: any); a finished run, a release, or an unfinished run of other
    settings only with ``force``: their contents are then moved to ``aside_path(path)``, which
    ``release_aside`` deletes once the new run has finished, so a failed run loses nothing
    (``dry_run``: only check). A folder of other files is never written into. An unfinished
    run whose resume state is corrupt (``resume_error``) is a UserError naming the file; with
    ``force`` it is replaced. Returns the aside folder or None.

    Unless ``dry_run``, this process takes the folder's lock (``lock_path``) until
    ``release_aside`` or its end: a second training into the same folder is refused.

    Example:
        >>> claim_out("runs/base")           # UserError if runs/base holds a finished run
    """
    path = Path(path)
    check_out_dir(path)
    locked = False
    if not dry_run and os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0") in ("", "0"):
        # one training per folder: a second one would "resume" the live run (the other hosts
        # of a multi-host run share the first's folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        locked = hold_lock(lock_path(path), path)
    try:
        return _claim(path, force, config, dry_run)
    except BaseException:
        if locked:
            release_lock(lock_path(path))
        raise


def _claim(path, force, config, dry_run):
    state = out_state(path)
    corrupt = resume_error(path) if state == "unfinished" else None
    if corrupt and not force:
        raise UserError(f"{corrupt}; pass --force to start the run over")
    if state == "new" or (state == "unfinished" and not corrupt and (
            config is None or resumes(path, config))):
        return None
    if state == "other":
        first = sorted(p.name for p in path.iterdir())[0]
        raise UserError(f"{path}: not a run directory (it holds {first}, ...): choose a new or "
                        "empty folder")
    what = {"release": f"a released model (model card {path / CARD_FILE})",
            "finished": "a finished run",
            "unfinished": ("an unfinished run with a corrupt resume state" if corrupt else
                           "an unfinished run of other settings")}[state]
    if not force:
        raise UserError(f"{path}: {what} is there; pass --force to replace it, or choose "
                        "another folder")
    if dry_run:
        return None
    aside = aside_path(path)
    try:
        shutil.rmtree(aside, ignore_errors=True)
        path.rename(aside)
    except OSError as e:
        raise UserError(f"{path}: cannot move {what} aside to replace it: {e.strerror}") from None
    print(f"replacing {what} in {path} (kept in {aside} until the new run finishes)", flush=True)
    return aside


def release_aside(path) -> None:
    """Delete what ``claim_out`` moved aside from ``path`` and give back its lock: the run
    replacing it is complete."""
    shutil.rmtree(aside_path(path), ignore_errors=True)
    release_lock(lock_path(path))


def read_meta(run_dir) -> dict:
    run_dir = check_run_dir(run_dir)
    path = run_dir / META_FILE
    return read_json(path) if path.is_file() else {}


def write_meta(run_dir, meta: dict) -> None:
    write_json(Path(run_dir) / META_FILE, meta)


def write_history(path, rows) -> None:
    """``rows`` (one dict per epoch) as ``history.csv``, atomically: the columns in the order
    they first appear, a row without one of them leaves its cell empty. The one writer."""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def read_history(path) -> dict:
    """``history.csv`` (the file, or a run directory holding it) as ``{column: [float per
    epoch]}``, NaN for an empty or non-numeric cell; ``{}`` when it has no rows. The one reader.

    Raises:
        UserFileNotFound: no such file. UserError: not a readable CSV.
    """
    path = Path(path)
    path = path / HISTORY_FILE if path.is_dir() else path
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise UserFileNotFound(f"{path}: no training history (file not found)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: cannot read history: {str(e).splitlines()[0]}") from None
    return {c: [to_float(r.get(c)) for r in rows] for c in (rows[0] if rows else {}) if c is not None}


def to_float(text) -> float:
    """``float(text)``, or NaN where it is empty or not a number (a CSV cell, a JSON null)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_config(run_dir):
    from keras_fer.config import TrainConfig

    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return TrainConfig()
    return TrainConfig.from_dict(read_json(path), source=str(path))


def load_model(run_dir, compile: bool = False, float32: bool = True):
    """Load ``RUN_DIR/model.keras`` with every keras_fer custom layer registered.

    ``float32``: a model trained with mixed precision comes back as its exact float32 copy
    (``keras_fer.models.common.float32_copy``), so evaluation, export and prediction compute in
    float32 whatever the training policy was.
    """
    path = check_run_dir(run_dir) / MODEL_FILE
    import keras

    import keras_fer.models.core  # noqa: F401  (registers custom layers for deserialisation)
    from keras_fer.models.common import float32_copy

    try:
        model = keras.saving.load_model(os.fspath(path), compile=compile)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: corrupt or incompatible model file: {reason}") from None
    return float32_copy(model) if float32 else model


def train_cpu_hours(run_dir):
    """The run's training CPU-hours from its ``summary.json``; None when it does not say."""
    path = Path(run_dir) / SUMMARY_FILE
    hours = read_json(path).get("train_cpu_hours") if path.is_file() else None
    return hours if isinstance(hours, (int, float)) else None


def ensemble_members(meta: dict) -> list:
    """The member run directories of an ensemble's ``meta.json``; [] for any other run."""
    return list(meta.get("ensemble", [])) if meta.get("model") == "ensemble" else []


def class_names(run_dir) -> list:
    """The names of the model's outputs, in order: ``meta.json``'s "classes".

    A run killed before its end has no meta.json (its best checkpoint is there): its names
    come from its config.json (FER2013's seven, + contempt, less ``drop_classes``: the order
    every reader labels in), checked against the model's number of outputs; a model whose
    outputs no names fit is a UserError, never seven default names against six outputs.
    """
    meta = read_meta(run_dir)
    if "classes" in meta:
        return list(meta["classes"])
    outputs = _output_count(Path(run_dir) / MODEL_FILE)
    names = [names for names in _config_classes(run_dir)
             if outputs is None or len(names) == outputs]
    if not names:
        raise UserError(f"{run_dir}: no {META_FILE} (a run stopped before its end?) and its "
                        f"model's {outputs} outputs fit none of the classes its {CONFIG_FILE} "
                        "implies: cannot tell which output is which class")
    return names[0]


def _config_classes(run_dir) -> list:
    """The class lists a run of ``RUN/config.json`` can have: without contempt, then with."""
    from keras_fer.data.classes import CLASS_NAMES, absent_class, class_index

    cfg = read_config(run_dir)
    options = []
    for base in (CLASS_NAMES[:-1], CLASS_NAMES):
        drop = {class_index(n, base) for n in cfg.drop_classes if not absent_class(n, base)}
        options.append([c for i, c in enumerate(base) if i not in drop])
    return options


def _output_count(model_path):
    """The number of units of the layer named "predictions" in a .keras archive's config
    (read without Keras), or None when it has none."""
    import json

    try:
        with zipfile.ZipFile(model_path) as z:
            config = json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    found = []

    def walk(node):
        if isinstance(node, dict):
            inner = node.get("config")
            if (isinstance(inner, dict) and inner.get("name") == "predictions"
                    and isinstance(inner.get("units"), int)):
                found.append(inner["units"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found[0] if len(set(found)) == 1 else None


def is_release(path) -> bool:
    """Whether ``path`` is a release: it has release.json, or (a release made before the marker
    existed, such as the shipped saved_models/best) a model card README.md and model.keras."""
    path = Path(path)
    if (path / RELEASE_FILE).is_file():
        return True
    card = path / CARD_FILE
    if not (card.is_file() and (path / MODEL_FILE).is_file()):
        return False
    with open(card, encoding="utf-8", errors="replace") as f:
        return f.read(len(CARD_TITLE)) == CARD_TITLE


def release_of(path):
    """The release that ``path`` is or lies in (it need not exist yet), else None."""
    path = Path(path).resolve()
    return next((p for p in (path, *path.parents) if is_release(p)), None)


def run_above(path):
    """The run directory or release that ``path`` would lie inside (one of its parents holding
    a model, a run's meta.json or resume state, or a release's marker), else None."""
    for parent in Path(path).absolute().parents:
        if is_release(parent) or any((parent / f).is_file() for f in (
                MODEL_FILE, META_FILE, RESUME_FILE)):
            return parent
    return None


def output_dir(run_dir, kind, out=None, force=False) -> Path:
    """The folder where ``kind`` ("eval" or "export") results of ``run_dir`` go.

    ``out`` if given, else ``RUN_DIR/kind``; for a release (or a folder in one, such as its
    SavedModel), ``runs/kind/<its name>``, so that its own reports keep matching its card. A
    folder in a release is refused without ``force``.

    Example:
        >>> output_dir("saved_models/best", "eval")
        PosixPath('runs/eval/best')
    """
    run_dir = Path(run_dir)
    if out is None:
        out = run_dir / kind
        home = release_of(run_dir)  # the release itself, or the release a folder lies in
        if home is not None and not force:
            out = Path("runs") / kind / home.name
    out = Path(out)
    release = release_of(out)
    if release is not None and not force:
        raise UserError(f"{out}: inside the release {release}, which is read-only: write "
                        "elsewhere with --out, or pass --force to change the release")
    return out
