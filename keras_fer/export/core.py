"""Export a run directory (SavedModel, .keras, TFLite float16/int8, ONNX) and check parity."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from keras_fer import rundir
from keras_fer.errors import UserError
from keras_fer.export.savedmodel import (
    load_serving,
    model_size,
    served_precision,
    write_savedmodel,
)
from keras_fer.export.tflite import (
    onnx_available,
    onnx_predict,
    require_onnx,
    tflite_predict,
    write_onnx,
    write_tflite,
)
from keras_fer.io_utils import disk_full_is_user_error, swap_into_place, write_json, write_text

FORMATS = ("savedmodel", "keras", "tflite", "onnx")
DEFAULT_FORMATS = ("savedmodel", "keras", "tflite")  # onnx needs keras_fer[onnx]: asked by name
EXPORT_DIR = "export"
SAVEDMODEL_TOLERANCE = 1e-5  # max |p_savedmodel - p_keras|
ONNX_TOLERANCE = 1e-5  # max |p_onnxruntime - p_keras|: the same float32 graph, other kernels
# TFLite int8 vs .keras, top-1. A flip where the .keras model's top two probabilities are under
# NEAR_TIE apart is rounding deciding a near-tie, which int8 legitimately does (a CPU-trained
# FER2013 CNN has ~2% such images); a flip on a clear decision is a conversion fault. So int8
# must agree on MIN_INT8_AGREEMENT of the clear images, and on MIN_INT8_AGREEMENT_ALL of all
# images (so that a model of near-ties only cannot pass on nothing).
NEAR_TIE = 0.05
MIN_INT8_AGREEMENT = 0.99
MIN_INT8_AGREEMENT_ALL = 0.95
PARITY_FILE = "parity.json"
PER_CLASS = 100  # images per class and split read for calibration and the parity check


def parse_formats(text: str) -> list:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    for f in formats:
        if f not in FORMATS:
            raise UserError(f"--format: unknown format {f!r} (choose from {', '.join(FORMATS)})")
    if not formats:
        raise UserError("--format: no format given")
    if "onnx" in formats:
        require_onnx()
    return formats


def load_images(path, per_class=PER_CLASS, classes=None):
    """(Training faces, PublicTest faces, source) from keras_fer.data (``classes``: the coding
    of numbered class folders); a split that is absent (a class-subfolder folder has only
    "Training") falls back to all images."""
    from keras_fer.data import default_source, load

    if path is None:
        try:
            data, path = load(None, per_class=per_class), "default data"
        except UserError:  # no data/: the raw source, else a UserError naming --data
            path = default_source("--data")
            data = load(path, per_class=per_class)
    else:
        data = load(path, per_class=per_class, classes=classes)

    def split(name):
        images, _ = data.split(name)
        return (images, f"{path}:{name}") if len(images) else (data.images, f"{path}:all")

    (train, _), (test, source) = split("Training"), split("PublicTest")
    return train, test, source


def model_inputs(images, model) -> np.ndarray:
    """uint8 48x48 faces (N, 48, 48) -> float32 (N, h, w, 1) at the model's input size."""
    from keras import ops

    from keras_fer.augment import fit_to

    return ops.convert_to_numpy(fit_to(np.asarray(images, "float32"), model_size(model)))


def top_two_gap(probs) -> np.ndarray:
    """Per row of (N, classes) probabilities: the largest minus the second largest."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def disagreements(ref, probs) -> dict:
    """Where ``probs`` and the reference ``ref`` (N, classes) disagree on top-1: how many, and
    the reference's gap between its top two probabilities there (a flip on a near-tie, e.g. a
    gap of 0.01, is quantization noise; one on a clear decision is a conversion fault)."""
    gap = top_two_gap(ref)
    differ = probs.argmax(axis=1) != ref.argmax(axis=1)
    return {"disagreements": int(differ.sum()),
            "disagreement_gap_median": float(np.median(gap[differ])) if differ.any() else None,
            "disagreement_gap_max": float(gap[differ].max()) if differ.any() else None}


def int8_verdict(ref, probs) -> dict:
    """Top-1 agreement of int8 ``probs`` with the reference ``ref`` (N, classes), overall and on
    the images that are not near-ties, with the verdict of the rule above (``ok``)."""
    clear = top_two_gap(ref) >= NEAR_TIE
    agree = probs.argmax(axis=1) == ref.argmax(axis=1)
    overall = float(np.mean(agree))
    on_clear = float(np.mean(agree[clear])) if clear.any() else 1.0
    return {"top1_agreement": overall, "clear_images": int(clear.sum()),
            "clear_agreement": on_clear, "near_tie": NEAR_TIE, "min_agreement": MIN_INT8_AGREEMENT,
            "min_agreement_all": MIN_INT8_AGREEMENT_ALL,
            "ok": on_clear >= MIN_INT8_AGREEMENT and overall >= MIN_INT8_AGREEMENT_ALL}


def rounding_check(what, ref, probs) -> dict:
    """The parity entry of a rounded model (TFLite int8, a bfloat16 SavedModel) against the
    reference ``ref``: its largest difference, ``disagreements`` and ``int8_verdict``, with
    ``failures``, the rule's message when it fails (``what`` names the model in it)."""
    entry = {"max_abs_diff": float(np.abs(probs - ref).max()), **disagreements(ref, probs),
             **int8_verdict(ref, probs)}
    entry["failures"] = [] if entry["ok"] else [
        f"{what} top-1 agreement {100 * entry['clear_agreement']:.2f}% on the "
        f"{entry['clear_images']} images whose .keras top two probabilities are "
        f">= {NEAR_TIE} apart (needs {100 * MIN_INT8_AGREEMENT:.0f}%), "
        f"{100 * entry['top1_agreement']:.2f}% on all {len(ref)} (needs "
        f"{100 * MIN_INT8_AGREEMENT_ALL:.0f}%); {entry['disagreements']} images differ"]
    return entry


def _savedmodel_parity(ref, served, precision) -> dict:
    """The SavedModel's entry of the parity report. float32: max |difference| <=
    ``SAVEDMODEL_TOLERANCE``; bfloat16, whose 8-bit mantissa moves probabilities by up to a few
    hundredths, is held to int8's top-1 rule (``rounding_check``)."""
    if precision == "bfloat16":
        return {"precision": precision, **rounding_check("bfloat16 SavedModel", ref, served)}
    diff = float(np.abs(served - ref).max())
    ok = diff <= SAVEDMODEL_TOLERANCE
    return {"max_abs_diff": diff, "tolerance": SAVEDMODEL_TOLERANCE, "ok": ok,
            "precision": precision, "failures": [] if ok else [
                f"SavedModel probabilities differ by {diff:.2e} > {SAVEDMODEL_TOLERANCE:.0e}"]}


def check_parity(model, export_dir, images, source="") -> dict:
    """Compare the artefacts in ``export_dir`` (those of earlier exports too: parity.json
    describes the folder as it is) with the ``.keras`` model on uint8 faces (N, 48, 48).

    SavedModel: max |difference| of probabilities <= ``SAVEDMODEL_TOLERANCE`` (a bfloat16 one:
    the int8 rule below, ``_savedmodel_parity``); ONNX (run by
    onnxruntime): <= ``ONNX_TOLERANCE``; TFLite int8: ``int8_verdict`` (top-1 agreement on
    clear decisions and overall); float16 is reported. Returns the report (``report["ok"]`` is
    False when a check fails).
    """
    from keras_fer.evaluate import predict_proba

    export_dir = Path(export_dir)
    images = np.asarray(images, "uint8")
    ref = np.asarray(predict_proba(model, images))
    top1 = ref.argmax(axis=1)
    report = {"images": int(len(images)), "source": str(source), "ok": True, "failures": []}
    sm_dir = export_dir / "savedmodel"
    if sm_dir.is_dir():
        loaded = load_serving(sm_dir)  # keep a reference: its functions need its variables
        served = loaded.serve(images[..., None])["probabilities"].numpy()
        report["savedmodel"] = _savedmodel_parity(ref, served, served_precision(loaded))
        report["failures"] += report["savedmodel"].pop("failures")
    x = None
    for quant in ("float16", "int8"):
        path = export_dir / f"model_{quant}.tflite"
        if not path.is_file():
            continue
        x = model_inputs(images, model) if x is None else x
        probs = tflite_predict(path, x)
        if quant == "float16":
            entry = {"max_abs_diff": float(np.abs(probs - ref).max()),
                     **disagreements(ref, probs),
                     "top1_agreement": float(np.mean(probs.argmax(axis=1) == top1))}
        else:  # int8: the top-1 rule, with its verdict
            entry = rounding_check("TFLite int8", ref, probs)
            report["failures"] += entry.pop("failures")
        report[f"tflite_{quant}"] = entry
    if (export_dir / "model.onnx").is_file():
        if onnx_available():
            x = model_inputs(images, model) if x is None else x
            probs = onnx_predict(export_dir / "model.onnx", x)
            diff = float(np.abs(probs - ref).max())
            report["onnx"] = {"max_abs_diff": diff, "tolerance": ONNX_TOLERANCE,
                              "top1_agreement": float(np.mean(probs.argmax(axis=1) == top1)),
                              "ok": diff <= ONNX_TOLERANCE}
            if diff > ONNX_TOLERANCE:
                report["failures"].append(f"ONNX (onnxruntime) probabilities differ by "
                                          f"{diff:.2e} > {ONNX_TOLERANCE:.0e}")
        else:  # an earlier export's file, and no onnxruntime here to run it
            report["onnx"] = {"ok": None, "note": "not checked: onnxruntime is not installed"}
    report["ok"] = not report["failures"]
    write_json(export_dir / PARITY_FILE, report)
    return report


def export_run(run_dir, out=None, formats=DEFAULT_FORMATS, representative=None,
               parity_images=None, source="", log=print, force=False,
               precision="float32") -> dict:
    """Export ``RUN_DIR/model.keras`` to ``out`` and check parity.

    Only the formats asked for are written; nothing else in ``out`` is removed or replaced (the
    SavedModel that TFLite and ONNX are converted from is a temporary one unless "savedmodel" is
    asked for).

    Args:
        run_dir: a run directory (``keras_fer.rundir``).
        out: the export folder (default ``RUN_DIR/export``; ``runs/export/<name>`` for a
            release, which is read-only: ``keras_fer.rundir.output_dir``).
        formats: any of ``FORMATS`` ("onnx" needs keras_fer[onnx]: a UserError without it).
        representative: uint8 faces (N, 48, 48) from Training, to calibrate TFLite int8.
        parity_images: uint8 faces (N, 48, 48) (PublicTest) for the parity check; None: no
            check, and an existing parity.json is left as it is.
        source: where the images came from (recorded in parity.json).
        log: a print-like function for progress lines.
        force: allow ``out`` inside a release.
        precision: the SavedModel's, "float32" or "bfloat16" (``write_savedmodel``); TFLite and
            ONNX are converted from a float32 one either way.

    Returns:
        the parity report (also written to ``out/parity.json``), with ``"files"`` added.

    Example:
        >>> export_run("runs/x", formats=["tflite"], representative=train, parity_images=test)
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("export_run needs the TensorFlow backend "
                           "(the CLI re-runs itself under it)")
    if "onnx" in formats:
        require_onnx()  # before any work
    run_dir = rundir.check_run_dir(run_dir)
    out = rundir.output_dir(run_dir, EXPORT_DIR, out, force)
    model = rundir.load_model(run_dir)
    classes = rundir.class_names(run_dir)
    if len(classes) != int(model.output_shape[-1]):
        raise UserError(f"{run_dir / rundir.META_FILE}: {len(classes)} classes but the model has "
                        f"{model.output_shape[-1]} outputs")
    out.mkdir(parents=True, exist_ok=True)
    files, staged = {}, {}  # name -> final path; final path -> where it was written first

    def stage(name, final) -> Path:
        files[name], staged[Path(final)] = str(final), tmp / Path(final).name
        return staged[Path(final)]

    # every file is written in a temporary folder, then renamed into place: a failure (a full
    # disk) leaves no partial file under a final name, and no new artefact without its parity
    with disk_full_is_user_error(out), tempfile.TemporaryDirectory(prefix=".export.",
                                                                   dir=out) as tmp:
        tmp = Path(tmp)
        write_text(stage("labels", out / "labels.txt"), "".join(f"{c}\n" for c in classes))
        if "savedmodel" in formats:
            t = time.time()
            write_savedmodel(model, classes, stage("savedmodel", out / "savedmodel"), precision)
            log(f"savedmodel ({precision}): {out / 'savedmodel'} ({time.time() - t:.1f}s)")
        # TFLite and ONNX are converted from a float32 SavedModel (neither converts bfloat16)
        sm_dir = (tmp / "savedmodel" if "savedmodel" in formats and precision == "float32"
                  else tmp / "float32" / "savedmodel")
        if any(f in formats for f in ("tflite", "onnx")) and not sm_dir.is_dir():
            write_savedmodel(model, classes, sm_dir)
        if "keras" in formats:
            shutil.copyfile(run_dir / rundir.MODEL_FILE, stage("keras", out / rundir.MODEL_FILE))
            log(f"keras: {files['keras']}")
        if "tflite" in formats:
            rep = model_inputs(representative, model) if representative is not None else None
            for quant in ("float16", "int8"):
                t = time.time()
                path = out / f"model_{quant}.tflite"
                write_tflite(sm_dir, stage(f"tflite_{quant}", path), quant, representative=rep)
                log(f"tflite {quant}: {path} ({time.time() - t:.1f}s)")
        if "onnx" in formats:
            write_onnx(sm_dir, stage("onnx", out / "model.onnx"))
            log(f"onnx: {files['onnx']}")
        for final, path in staged.items():
            if path.is_dir():
                swap_into_place(path, final)
            else:
                os.replace(path, final)
    if parity_images is None:
        report = {"ok": True, "images": 0, "note": "no images: parity not checked"}
    else:  # no artefact of this export is left without its check
        with disk_full_is_user_error(out, *staged, out / PARITY_FILE):
            report = check_parity(model, out, parity_images, source=source)
    report["files"] = files
    return report
