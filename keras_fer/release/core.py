"""Release a trained run as ``saved_models/best``: the run directory (``keras_fer.rundir``) with
its evaluation reports, confusion matrices, an exported SavedModel (+ TFLite) and a model card.

    python -m keras_fer.release RUN_DIR [--out saved_models/best] [--data PATH] [--force]
                                [--recipe recipes/best.json] [--notes NOTES.md] [--tta tencrop]

    saved_models/best/
      model.keras, config.json, meta.json, history.csv, curves.png, summary.json   (the run;
      search.json too when python -m tuning chose it)
      eval/report.json             PublicTest + PrivateTest, no test-time augmentation
      eval/report_<tta>.json       the same with test-time augmentation
      eval/confusion_<split>[_<tta>].png
      export/savedmodel, export/model_{float16,int8}.tflite, export/parity.json, labels.txt
      lineage/<run>.json           the recipes of the runs it was made from (a teacher, the run
                                   it was fine-tuned from: keras_fer.release.lineage), so
                                   the card's commands make them first
      README.md                    the model card (keras_fer.release.card)
      release.json                 what was released from where, when: marks the folder as a
                                   release (``keras_fer.rundir.is_release``)

Because it is a run directory, ``python -m keras_fer.evaluate saved_models/best`` reproduces
``eval/report.json`` (into ``runs/eval/best``: a release is read-only, ``rundir.output_dir``);
visualize, export and predict read it too. The release is built in a temporary folder beside
``out`` and renamed into place, so an existing release is never half overwritten; it is only
replaced with ``force``, and ``force`` replaces nothing but a release.

Example:
    >>> make_release("runs/vgg19-20261125", "saved_models/best", data="data", force=True)
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from keras_fer import rundir
from keras_fer.errors import UserError
from keras_fer.io_utils import disk_full_is_user_error, remove_stale_stages
from keras_fer.io_utils import stage_path as _stage
from keras_fer.io_utils import swap_into_place as _swap_into_place

MAX_BYTES = 100_000_000  # a release must stay a download people accept: at most 100 MB
SPLITS = ("PublicTest", "PrivateTest")
RUN_FILES = (rundir.MODEL_FILE, rundir.CONFIG_FILE, rundir.META_FILE, rundir.HISTORY_FILE,
             "curves.png", rundir.SUMMARY_FILE, "search.json")  # search.json: a tuned run's trial
CARD_FILE = rundir.CARD_FILE


def folder_bytes(path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def check_out(out, force: bool, run_dir=None) -> None:
    """``out`` may receive a release: it is new, an empty folder, or a release (replaced only
    with ``force``). Anything else (a folder of runs, the run itself, a file) is never replaced,
    nor a folder holding ``run_dir``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: not a folder; choose a new --out for the release")
    if run_dir is not None and out.resolve() in Path(run_dir).resolve().parents:
        raise UserError(f"{out}: holds the run {run_dir} being released; choose a new --out")
    if not out.exists() or not any(out.iterdir()):
        return
    if not rundir.is_release(out):
        raise UserError(f"{out}: not a release (no {rundir.RELEASE_FILE} or model card) but a "
                        "folder with files; --force replaces only a release: choose a new --out")
    if not force:
        raise UserError(f"{out}: a model is already released there; pass --force to replace it")


def unfinished_reason(run_dir):
    """Why ``run_dir`` is not a finished run (a training killed before its end: no meta.json,
    or its resume state still there), or None."""
    run_dir = Path(run_dir)
    if (run_dir / rundir.RESUME_FILE).is_file():
        return f"an unfinished run ({rundir.RESUME_FILE} is there: its training did not end)"
    if not (run_dir / rundir.META_FILE).is_file():
        return f"an unfinished run (no {rundir.META_FILE}: its training was killed before its end?)"
    return None


def check_finished(run_dir, force: bool):
    """UserError for an unfinished run unless ``force``; with it, the warning for the card."""
    why = unfinished_reason(run_dir)
    if why and not force:
        raise UserError(f"{run_dir}: {why}; finish it (run its training again), or pass --force "
                        "to release it anyway")
    return f"{run_dir} is {why}; released with --force" if why else None


def make_release(run_dir, out="saved_models/best", data=None, *, tta="tencrop", force=False,
                 recipe=None, notes=None, log=print) -> Path:
    """Build the release of ``run_dir`` into ``out`` (see the module docstring).

    Args:
        run_dir: a trained run directory.
        out: the release folder.
        data: FER2013 (file/folder/zip/npz) with PublicTest and PrivateTest; None: the run's
            config ``data`` (else ``data/``).
        tta: the test-time augmentation of the second report ("flip" or "tencrop").
        force: replace an existing release; release an unfinished run or an export that fails
            its parity check (the card then says so at its top; without it, a UserError).
        recipe: the recipe file the run was trained from, for the card's reproduce command.
        notes: markdown added to the card under "Notes" (e.g. how it compares with a target).
        log: a print-like function for progress lines.
    """
    import keras

    from keras_fer.data import load
    from keras_fer.evaluate import evaluate_run, report_path
    from keras_fer.export.core import PER_CLASS, export_run, load_images
    from keras_fer.io_utils import read_json, write_json, write_text
    from keras_fer.release.card import render_card
    from keras_fer.release.lineage import lineage, write_recipes

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("make_release needs the TensorFlow backend (the CLI re-runs itself under it)")
    if tta not in ("flip", "tencrop"):
        raise UserError(f"--tta: {tta!r} is not a test-time augmentation (flip or tencrop)")
    run_dir, out = rundir.check_run_dir(run_dir), Path(out)
    check_out(out, force, run_dir)
    warnings = [w for w in [check_finished(run_dir, force)] if w]
    config = rundir.read_config(run_dir)
    classes = config.classes  # the coding the run's data was read with
    if data is None:
        data = config.data or "data"
    formats = release_formats(run_dir / rundir.MODEL_FILE, log)
    remove_stale_stages(out)
    stage = _stage(out, os.getpid())
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    with disk_full_is_user_error(out):  # the finally removes the staging folder
        try:
            for name in RUN_FILES:
                if (run_dir / name).is_file():
                    shutil.copy2(run_dir / name, stage / name)
            # an ensemble's lineage is its members (its config is the default)
            steps = lineage(config, rundir.ensemble_members(rundir.read_meta(run_dir)))
            write_recipes(steps, stage)
            full = load(data, classes=classes)
            reports = {}
            for mode in ("none", tta):
                log(f"evaluating {', '.join(SPLITS)} (test-time augmentation: {mode}) ...")
                reports[mode] = evaluate_run(stage, data=full, splits=SPLITS, tta=mode, verbose=False,
                                             drop_classes=config.drop_classes)
                reports[mode]["run"] = str(out)  # not the staging folder's name
                write_json(report_path(stage, mode), reports[mode])
            train, test, source = load_images(data, PER_CLASS, classes)
            log(f"exporting (parity on {len(test)} images from {source}) ...")
            parity = export_run(stage, out=stage / "export", formats=formats,
                                representative=train, parity_images=test, source=source, log=log)
            if not parity.get("ok", True):
                failed = "; ".join(parity.get("failures", [])) or "see export/parity.json"
                if not force:
                    raise UserError(f"{run_dir}: its export fails the parity check ({failed}); not "
                                    "released: pass --force to release it anyway")
                warnings.append(f"the export fails its parity check ({failed}); released with --force")
            for line in warnings:
                log(f"WARNING: {line}")
            summary_file = stage / rundir.SUMMARY_FILE
            card = render_card(meta=rundir.read_meta(stage),
                               summary=read_json(summary_file) if summary_file.is_file() else {},
                               config=rundir.read_config(stage), reports=reports, parity=parity,
                               out=out, data=data, recipe=recipe, notes=notes,
                               lineage=steps, warnings=warnings)
            write_text(stage / CARD_FILE, card)
            write_json(stage / rundir.RELEASE_FILE, {
                "run": str(run_dir), "released": time.strftime("%Y-%m-%d %H:%M:%S"),
                "data": str(data), "tta": tta, "formats": list(formats),
                    **({"warnings": warnings} if warnings else {})})
            size = folder_bytes(stage)
            if size > MAX_BYTES:
                raise UserError(f"{run_dir}: the release would be {size / 1e6:.1f} MB, over the "
                                f"{MAX_BYTES / 1e6:.0f} MB limit")
            _swap_into_place(stage, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    log(f"released {run_dir} -> {out} ({size / 1e6:.1f} MB); model card {out / CARD_FILE}")
    return out


def _old_card(card: str, pattern: str):
    """The first group of ``pattern`` (multiline) in the release's current card, or None."""
    found = re.search(pattern, card, re.MULTILINE | re.DOTALL)
    return found.group(1) if found else None


def rerender_card(release, *, force=False, recipe=None, notes=None, log=print) -> Path:
    """Render ``release``'s model card again from its own files (the run it was made from may be
    gone), and replace its README.md with it, atomically; every other file is left as it is.

    What only the current card records is kept from it: its "## Notes" (unless ``notes``), the
    recipe its *Reproduce* trains with (unless ``recipe``), and the training CPU-hours of the runs
    it was made from (their folders, which said them, are gone; ``lineage/`` keeps their recipes).
    The date it was released comes from release.json. Needs no Keras.
    """
    from keras_fer.evaluate.core import report_path
    from keras_fer.io_utils import read_json, write_text
    from keras_fer.release.card import render_card
    from keras_fer.release.lineage import LINEAGE_DIR, lineage

    release = Path(release)
    if not release.is_dir() or not rundir.is_release(release):
        raise UserError(f"{release}: not a release (no {rundir.RELEASE_FILE} or model card); "
                        "--card-only re-renders a release's card")
    if not force:
        raise UserError(f"{release}: a release changes only with --force; pass it to re-render "
                        f"its {CARD_FILE}")
    marker = release / rundir.RELEASE_FILE
    record = read_json(marker) if marker.is_file() else {}
    old = (release / CARD_FILE).read_text(encoding="utf-8") if (release / CARD_FILE).is_file() else ""
    tta = record.get("tta", "tencrop")
    reports = {}
    for mode in ("none", tta):
        if not report_path(release, mode).is_file():
            raise UserError(f"{report_path(release, mode)}: missing; the card's metrics come "
                            "from it (python -m keras_fer.release RUN --force makes it)")
        reports[mode] = read_json(report_path(release, mode))
    parity_file = release / "export" / "parity.json"
    summary_file = release / rundir.SUMMARY_FILE
    meta, config = rundir.read_meta(release), rundir.read_config(release)
    if notes is None:
        notes = _old_card(old, r"^## Notes\n(.*?)\n## Data\n")  # the section after Notes
    if recipe is None:
        recipe = _old_card(old, r"^python -m keras_fer\.train --config (\S+)[^\n]* --out runs/release$")
    hours = _old_card(old, r"^\| made from \|[^\n]*; ([0-9.]+) training CPU-hours with them")
    released = record.get("released", "")[:10] or _old_card(old, r"^\| released \| ([^ |]+) \|$")
    card = render_card(meta=meta, summary=read_json(summary_file) if summary_file.is_file() else {},
                       config=config, reports=reports,
                       parity=read_json(parity_file) if parity_file.is_file() else {},
                       out=release, data=record.get("data", "data"), recipe=recipe,
                       notes=(notes or "").strip() or None,
                       lineage=lineage(config, rundir.ensemble_members(meta),
                                       recorded=release / LINEAGE_DIR),
                       warnings=record.get("warnings", ()), released=released,
                       made_from_hours=float(hours) if hours else None)
    write_text(release / CARD_FILE, card)
    log(f"re-rendered the model card {release / CARD_FILE}")
    return release / CARD_FILE


def release_formats(model_file: Path, log=print) -> tuple:
    """("savedmodel", "tflite"), or ("savedmodel",) when TFLite would take the release over
    MAX_BYTES; a UserError when even model.keras + SavedModel would (both hold the float32
    weights; the TFLite pair adds about 3/4 of them: float16 1/2, int8 1/4)."""
    size = model_file.stat().st_size
    if 2 * size > MAX_BYTES:
        raise UserError(f"{model_file}: {size / 1e6:.1f} MB; a release holds it twice (model.keras "
                        f"and the SavedModel), over the {MAX_BYTES / 1e6:.0f} MB limit: release a "
                        "smaller model")
    if 2.75 * size > MAX_BYTES:
        log(f"TFLite left out of the release: with it the release would pass "
            f"{MAX_BYTES / 1e6:.0f} MB (python -m keras_fer.export makes it)")
        return ("savedmodel",)
    return ("savedmodel", "tflite")
