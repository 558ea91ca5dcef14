"""Evaluation of a run directory: per split accuracy, macro-F1, weighted F1, average accuracy,
a per-class table, ``RUN/eval/report.json`` and a normalised confusion-matrix PNG per split
(``report_<tta>.json`` and ``confusion_<split>_<tta>.png`` with test-time augmentation, so the
plain and the augmented reports live side by side). By default both test splits: PublicTest and
the held-out PrivateTest; the report says which split chose the checkpoint (``selection``).

A release is read-only (``keras_fer.rundir.output_dir``): its new reports go to
``runs/eval/<name>`` unless ``out`` says elsewhere; into the release only with ``force``.

    python -m keras_fer.evaluate RUN_DIR [--data PATH] [--split PublicTest,PrivateTest]
                                 [--tta none|flip|tencrop] [--out DIR] [--force] [--json]

Example:
    >>> report = evaluate_run("saved_models/best")  # writes runs/eval/best/report.json
    >>> report["splits"]["PrivateTest"]["accuracy"]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.evaluate.metrics import compute_metrics, confusion_matrix, format_report, plot_confusion

__all__ = ["predict_proba", "compute_metrics", "evaluate_run", "confusion_matrix", "format_report",
           "report_name", "report_path", "selection", "SPLITS", "TTA_MODES"]

TTA_MODES = ("none", "flip", "tencrop")
EVAL_DIR = "eval"
SPLITS = ("PublicTest", "PrivateTest")


def predict_proba(model, images_uint8, tta="none", batch_size=256) -> np.ndarray:
    """Softmax probabilities ``(N, C)`` of ``model`` (logits out) on uint8 images.

    ``images_uint8``: (N, H, W) or (N, H, W, 1). Each batch is cast to float32 and turned into the
    test-time-augmentation views of ``keras_fer.augment.tta_views`` at the model's input size;
    the softmax is averaged over the views.
    """
    from keras import ops

    from keras_fer.augment import tta_views

    if tta not in TTA_MODES:
        raise UserError(f"--tta: unknown mode {tta!r} (known: {', '.join(TTA_MODES)})")
    images = np.asarray(images_uint8)
    if images.ndim == 3:
        images = images[..., None]
    size = tuple(model.input_shape[1:3])
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].astype("float32")
        views = tta_views(batch, tta, size)
        probs = sum(ops.convert_to_numpy(ops.softmax(ops.cast(model(v, training=False), "float32")))
                    for v in views)
        out.append(np.asarray(probs, dtype=np.float64) / len(views))
    if not out:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float64)
    return np.concatenate(out)


def report_name(tta="none") -> str:
    """``report.json``, or ``report_<tta>.json`` with test-time augmentation."""
    return "report.json" if tta == "none" else f"report_{tta}.json"


def report_path(run_dir, tta="none") -> Path:
    """``RUN/eval/report.json``, or ``report_<tta>.json`` with test-time augmentation."""
    return Path(run_dir) / EVAL_DIR / report_name(tta)


def selection(run_dir):
    """Which split chose the run's checkpoint, from its config.json and meta.json:
    ``{"split", "monitor", "epoch"}``, or None when config.json is absent (not guessed)."""
    from keras_fer import rundir

    if not (Path(run_dir) / rundir.CONFIG_FILE).is_file():
        return None
    config = rundir.read_config(run_dir)
    split = ("PublicTest" if config.val == "PublicTest"
             else f"a held-out {config.val_fraction:.0%} of Training")
    return {"split": split, "monitor": config.monitor,
            "epoch": rundir.read_meta(run_dir).get("best_epoch")}


def selection_line(chosen) -> str:
    """One printable line saying which split chose the checkpoint (``selection``)."""
    if chosen is None:
        return "checkpoint selection: not recorded (no config.json)"
    epoch = f", epoch {chosen['epoch']}" if chosen.get("epoch") is not None else ""
    held_out = ("its figures are optimistic; PrivateTest is held out"
                if chosen["split"] == "PublicTest" else "PublicTest and PrivateTest are held out")
    return (f"checkpoint chosen on {chosen['split']} (best {chosen['monitor']}{epoch}): "
            f"{held_out}")


def _map_labels(labels, data_classes, run_classes, source):
    """Labels of ``data_classes`` re-indexed into the run's classes (by name)."""
    data_classes, run_classes = list(data_classes), list(run_classes)
    if data_classes == run_classes:
        return labels
    lut = np.full(len(data_classes), -1, dtype=np.int64)
    for i, name in enumerate(data_classes):
        if name in run_classes:
            lut[i] = run_classes.index(name)
    mapped = lut[labels]
    bad = np.unique(labels[mapped < 0])
    if bad.size:
        raise UserError(f"{source}: class {data_classes[bad[0]]!r} is not one the model knows "
                        f"({', '.join(run_classes)})")
    return mapped


def _eval_sets(data, splits, source_name):
    """[(name, images, labels)]: the requested splits, or the whole set for a plain folder."""
    present = set(np.unique(data.splits).tolist())
    wanted = [s for s in splits if s in present]
    if not wanted and present <= {"Training"} and len(data):
        return [(source_name, data.images, data.labels)]
    missing = [s for s in splits if s not in present]
    if missing:
        raise UserError(f"{source_name}: no {missing[0]} images in the data "
                        f"(present: {', '.join(sorted(present)) or 'none'})")
    return [(s,) + tuple(data.split(s)) for s in splits]


def evaluate_run(run_dir, data=None, splits=SPLITS, tta="none", batch_size=256,
                 verbose=True, out=None, force=False) -> dict:
    """Evaluate ``RUN_DIR/model.keras`` and write ``report.json`` + PNGs
    (``report_<tta>.json``, ``confusion_<split>_<tta>.png`` when ``tta`` is not "none") into
    ``out``, by default ``RUN_DIR/eval`` (``runs/eval/<name>`` for a release: see above).
    ``data``: a FERData, a path for ``keras_fer.data.load``, or None (the run's config ``data``).
    A labelled folder without FER2013 splits is evaluated whole as one split named after it.
    Returns the report dict: ``{"run", "tta", "classes", "selection", "splits": {name:
    compute_metrics(...)}}``.
    """
    from keras_fer import rundir
    from keras_fer.io_utils import write_json

    run_dir = rundir.check_run_dir(run_dir)
    out_dir = rundir.output_dir(run_dir, EVAL_DIR, out, force)  # before minutes of evaluation
    classes = rundir.class_names(run_dir)
    source_name = "all"
    if data is None:
        data = rundir.read_config(run_dir).data
    if not hasattr(data, "images"):
        from keras_fer.data import load

        source_name = Path(data).stem if data is not None else "data"
        data = load(data)
    model = rundir.load_model(run_dir)
    chosen = selection(run_dir)
    report = {"run": str(run_dir), "tta": tta, "classes": classes, "selection": chosen,
              "splits": {}}
    if verbose:
        print(selection_line(chosen), flush=True)
    suffix = "" if tta == "none" else f"_{tta}"
    for name, images, labels in _eval_sets(data, list(splits), source_name):
        labels = _map_labels(labels, data.classes, classes, name)
        t0 = time.time()
        probs = predict_proba(model, images, tta=tta, batch_size=batch_size)
        m = compute_metrics(labels, probs.argmax(axis=1), classes)
        m["seconds"] = round(time.time() - t0, 2)
        report["splits"][name] = m
        plot_confusion(out_dir / f"confusion_{name}{suffix}.png", m, f"{name} ({tta})")
        if verbose:
            print(format_report(name, m), flush=True)
    write_json(out_dir / report_name(tta), report)
    return report
