"""Evaluation of a run directory: per split accuracy, macro-F1, weighted F1, average accuracy,
a per-class table, ``RUN/eval/report.json`` and a normalised confusion-matrix PNG per split
(``report_<tta>.json`` and ``confusion_<split>_<tta>.png`` with test-time augmentation, so the
plain and the augmented reports live side by side). By default both test splits: PublicTest and
the held-out PrivateTest; the report says which split chose the checkpoint (``selection``).

A release is read-only (``keras_fer.rundir.output_dir``): its new reports go to
``runs/eval/<name>`` unless ``out`` says elsewhere; into the release only with ``force``.

    python -m keras_fer.evaluate RUN_DIR [--data PATH] [--split PublicTest,PrivateTest]
                                 [--tta none|flip|tencrop] [--out DIR] [--force] [--json]
                                 [--classes CODING] [--drop-classes contempt]

Example:
    >>> report = evaluate_run("saved_models/best")  # writes runs/eval/best/report.json
    >>> report["splits"]["PrivateTest"]["accuracy"]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.evaluate.scores import compute_metrics, format_report, plot_confusion

EVAL_DIR = "eval"
SPLITS = ("PublicTest", "PrivateTest")


def predict_proba(model, images_uint8, tta="none", batch_size=256) -> np.ndarray:
    """Softmax probabilities ``(N, C)`` of ``model`` (logits out) on uint8 images.

    ``images_uint8``: (N, H, W) or (N, H, W, 1). Each batch is cast to float32 and turned into the
    test-time-augmentation views of ``keras_fer.augment.tta_views`` at the model's input size;
    the softmax is averaged over the views. The model is called eagerly, batch by batch: for
    small calls (a few faces); ``compiled_proba`` is the same for whole splits.
    """
    from keras import ops

    images, size = _checked(model, images_uint8, tta)
    out = [np.asarray(ops.convert_to_numpy(_mean_softmax(
        model, images[start:start + batch_size].astype("float32"), tta, size)), dtype=np.float64)
        for start in range(0, len(images), batch_size)]
    if not out:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float64)
    return np.concatenate(out)


def compiled_proba(model, tta="none"):
    """``predict_proba(model, images, tta, batch_size)`` as a function ``proba(images,
    batch_size=256)`` that runs views, model and average as one compiled function
    (``Model.predict``: jit on JAX, a tf.function on TensorFlow), built on its first call for an
    image size and reused by the later ones (the splits of an evaluation): 1.5-2x faster than
    the eager calls on a split, but not worth its tracing for a few faces."""
    import keras

    wrappers = {}  # image shape -> the wrapping model

    class MeanOverViews(keras.layers.Layer):
        def __init__(self, net, size):
            super().__init__()
            self.net, self.size = net, size  # tracked: JAX's stateless predict passes its weights

        def call(self, x):
            return _mean_softmax(self.net, x, tta, self.size)

    def proba(images_uint8, batch_size=256) -> np.ndarray:
        images, size = _checked(model, images_uint8, tta)
        if not len(images):
            return np.zeros((0, int(model.output_shape[-1])), dtype=np.float64)
        shape = images.shape[1:]
        if shape not in wrappers:
            inputs = keras.Input(shape)
            wrappers[shape] = keras.Model(inputs, MeanOverViews(model, size)(inputs))
        probs = wrappers[shape].predict(images.astype("float32"), batch_size=batch_size, verbose=0)
        return np.asarray(probs, dtype=np.float64)

    return proba


def _checked(model, images_uint8, tta):
    """``(images as (N, H, W, 1), the model's input size)``; an unknown ``tta`` is a UserError."""
    from keras_fer.config import TTA_MODES

    if tta not in TTA_MODES:
        raise UserError(f"--tta: unknown mode {tta!r} (known: {', '.join(TTA_MODES)})")
    images = np.asarray(images_uint8)
    if images.ndim == 3:
        images = images[..., None]
    return images, tuple(model.input_shape[1:3])


def _mean_softmax(model, batch, tta, size):
    """The softmax of ``model`` on float32 ``batch``, averaged over its views of ``tta``."""
    from keras import ops

    from keras_fer.augment import tta_views

    views = tta_views(batch, tta, size)
    return sum(ops.softmax(ops.cast(model(v, training=False), "float32")) for v in views) / len(views)


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


def _map_labels(labels, data_classes, run_classes):
    """Labels of ``data_classes`` re-indexed into the run's classes (by name); every class
    with images is one the run knows (`_check_classes`)."""
    data_classes, run_classes = list(data_classes), list(run_classes)
    if data_classes == run_classes:
        return labels
    lut = np.array([run_classes.index(c) if c in run_classes else -1 for c in data_classes],
                   dtype=np.int64)
    return lut[labels]


def _check_classes(sets, data_classes, run_classes):
    """UserError when images of the evaluated sets belong to a class the model does not have:
    it names the class, its image count and the ``--drop-classes`` that leaves them out."""
    counts = sum(np.bincount(labels, minlength=len(data_classes)) for _, _, labels in sets)
    missing = {c: int(n) for c, n in zip(data_classes, counts) if n and c not in run_classes}
    if missing:
        what = ", ".join(f"{c!r} ({n} image(s))" for c, n in missing.items())
        raise UserError(f"{', '.join(s[0] for s in sets)}: the model has no class {what} (its "
                        f"classes: {', '.join(run_classes)}): --drop-classes "
                        f"{','.join(missing)} leaves out those {sum(missing.values())} image(s)")


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


def _drop(data, names, splits, source_name):
    """(data without the classes ``names``, {dropped class: images of the evaluated sets})."""
    from keras_fer.data import drop_classes

    kept = drop_classes(data, names)
    sets = _eval_sets(data, splits, source_name)
    return kept, {c: int(sum((labels == i).sum() for _, _, labels in sets))
                  for i, c in enumerate(data.classes) if c not in kept.classes}


def evaluate_run(run_dir, data=None, splits=SPLITS, tta="none", batch_size=256,
                 verbose=True, out=None, force=False, classes=None, drop_classes=()) -> dict:
    """Evaluate ``RUN_DIR/model.keras`` and write ``report.json`` + PNGs
    (``report_<tta>.json``, ``confusion_<split>_<tta>.png`` when ``tta`` is not "none") into
    ``out``, by default ``RUN_DIR/eval`` (``runs/eval/<name>`` for a release: see above).
    ``data``: a FERData, a path for ``keras_fer.data.load`` (read with the ``classes``
    coding), or None (the run's config ``data`` and ``classes``). A labelled folder without
    FER2013 splits is evaluated whole as one split named after it. ``drop_classes``: classes
    whose images are left out (their counts are the report's ``dropped``); images of a class
    the model does not have are a UserError that says so.
    Returns the report dict: ``{"run", "tta", "classes", "selection", "splits": {name:
    compute_metrics(...)}}``.
    """
    from keras_fer import rundir
    from keras_fer.io_utils import write_json

    run_dir = rundir.check_run_dir(run_dir)
    out_dir = rundir.output_dir(run_dir, EVAL_DIR, out, force)  # before minutes of evaluation
    run_classes = rundir.class_names(run_dir)
    source_name = "all"
    if data is None:
        config = rundir.read_config(run_dir)
        data, classes = config.data, config.classes if classes is None else classes
    if not hasattr(data, "images"):
        from keras_fer.data import load

        source_name = Path(data).stem if data is not None else "data"
        data = load(data, classes=classes)
    dropped = {}
    if drop_classes:
        data, dropped = _drop(data, drop_classes, list(splits), source_name)
    sets = _eval_sets(data, list(splits), source_name)
    _check_classes(sets, data.classes, run_classes)
    model = rundir.load_model(run_dir)
    chosen = selection(run_dir)
    report = {"run": str(run_dir), "tta": tta, "classes": run_classes, "selection": chosen,
              "splits": {}}
    if drop_classes:
        report["dropped"] = dropped
    if verbose:
        print(selection_line(chosen), flush=True)
    suffix = "" if tta == "none" else f"_{tta}"
    proba = compiled_proba(model, tta)  # one compiled function for every split
    for name, images, labels in sets:
        labels = _map_labels(labels, data.classes, run_classes)
        t0 = time.time()
        probs = proba(images, batch_size=batch_size)
        m = compute_metrics(labels, probs.argmax(axis=1), run_classes)
        m["seconds"] = round(time.time() - t0, 2)
        report["splits"][name] = m
        plot_confusion(out_dir / f"confusion_{name}{suffix}.png", m, f"{name} ({tta})")
        if verbose:
            print(format_report(name, m), flush=True)
    write_json(out_dir / report_name(tta), report)
    return report
