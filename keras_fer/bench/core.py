"""Training throughput of the REAL training step (``keras_fer.train.build_training_model``).

One case = (model, augment on/off, precision, devices): build the model under the precision's
dtype policy, wrap it in the training model, fit ``epochs`` epochs of uint8 images at
``batch_size`` (the global batch, split across the devices as ``keras_fer.train`` does) and
time every epoch after the first (the first compiles).

Keras is imported by ``run_case`` only: the command line's parser reads ``PRECISIONS`` from here
and answers ``--help`` without it.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np

from keras_fer.config import TrainConfig
from keras_fer.devices import device_name, on_device
from keras_fer.emotions import EMOTIONS
from keras_fer.errors import UserError

PRECISIONS = {"float32": "float32", "mixed": "mixed_bfloat16", "mixed_bfloat16": "mixed_bfloat16",
              "mixed_float16": "mixed_float16"}
KEYS = ("model", "augment", "precision", "backend", "device", "devices", "batch_size", "images",
        "seconds", "img_per_s", "img_per_s_per_device")


def full_augment(input_hw, image_hw=(48, 48)) -> dict:
    """The full augmentation of the benchmark: flip + affine + crop to the model input +
    brightness/contrast + random erasing (the crop pads 4 pixels when the input is the image size)."""
    crop = int(input_hw[0]) if input_hw[0] <= image_hw[0] else None
    return {"flip": True, "crop": crop, "pad": 4 if crop == image_hw[0] else 0,
            "affine": {"rotation": 10, "translate": 0.1, "scale": [0.9, 1.1]},
            "brightness": [0.8, 1.2], "contrast": [0.8, 1.2], "erasing": 0.5}


def synthetic(n, seed=0, hw=(48, 48), classes=7):
    """``n`` random uint8 images and labels (for tests and quick checks)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *hw), dtype=np.uint8), rng.integers(0, classes, n).astype("int64")


def load_training(path=None, limit=None, seed=0):
    """The FER2013 Training split (uint8 (N, 48, 48), labels), optionally a stratified subset."""
    from keras_fer.data import load, stratified_subset

    images, labels = load(path).split("Training")
    if limit is not None and limit < len(labels):
        idx = stratified_subset(labels, limit, seed=seed)
        images, labels = images[idx], labels[idx]
    return images, labels


def training_model(model, cfg):
    """The one place that makes the training step: the trainer's own (never a copy)."""
    from keras_fer.train import build_training_model

    return build_training_model(model, cfg)


def run_case(name, augment, precision, images, labels, *, epochs=2, steps=None, batch_size=128,
             seed=0, devices=1) -> dict:
    """Train ``epochs`` epochs on ``devices`` (a number or "all", ``keras_fer.distribute``) and
    return the result line: img/s of the fastest epoch after the first (as
    ../shared/bench/peer_torch.py reports its steady epoch), in all and per device."""
    if epochs < 2:
        raise UserError(f"--epochs must be >= 2 (the first epoch compiles and is not timed), got {epochs}")
    import keras

    from keras_fer.distribute import make_plan
    from keras_fer.train import build_net

    plan = make_plan(devices)
    plan.check_batch(batch_size)
    images, labels = plan.trim(images, labels, seed)
    cfg = TrainConfig(model=name, batch_size=batch_size, seed=seed, verbose=0,
                      mixed_precision=precision != "float32")
    # wall time of each epoch (Keras reads the epoch's logs back at its end: synchronised)
    starts, epoch_seconds = [], []
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_seconds.append(time.perf_counter() - starts[-1]))
    with plan.scope():
        keras.utils.set_random_seed(seed)
        model = build_net(cfg, len(EMOTIONS), policy=PRECISIONS[precision])
        input_hw = tuple(int(d) for d in model.input_shape[1:3])
        if augment:
            cfg = cfg.replace(augment=full_augment(input_hw, images.shape[1:3]))
        tm = training_model(model, cfg)
        x, y = on_device(images[..., None]), on_device(labels)
        tm.build_state(x, y)
        tm.fit((x, y), y, batch_size=batch_size, epochs=epochs, steps_per_epoch=steps, verbose=0,
               callbacks=[clock])
    per_epoch = len(labels) if steps is None else min(len(labels), steps * batch_size)
    seconds = min(epoch_seconds[1:])  # the steady epoch: the fastest after the compiling one
    return {"model": name, "augment": "on" if augment else "off", "precision": precision,
            "backend": keras.backend.backend(), "device": device_name(), "devices": plan.devices,
            "batch_size": batch_size, "images": per_epoch, "seconds": round(seconds, 4),
            "img_per_s": round(per_epoch / seconds, 1),
            "img_per_s_per_device": round(per_epoch / seconds / plan.devices, 1)}


def cases(models, augments, precisions):
    """Every (model, augment bool, precision) in a stable order."""
    for name, aug, prec in itertools.product(models, augments, precisions):
        yield name, aug == "on", prec


def overheads(results) -> list[dict]:
    """img/s with augmentation / without, per (model, precision[, devices]) measured both
    ways."""
    by = {(r["model"], r["precision"], r["augment"], r.get("devices", 1)): r["img_per_s"]
          for r in results}
    out = []
    for (model, prec, aug, devices), value in by.items():
        if aug == "on" and (model, prec, "off", devices) in by:
            out.append({"model": model, "precision": prec,
                        **({"devices": devices} if devices != 1 else {}),
                        "augment_ratio": round(value / by[(model, prec, "off", devices)], 3)})
    return out


def scaling(results) -> list[dict]:
    """The scaling efficiency of each case measured on 1 and on N > 1 devices: img/s on N over
    N times img/s on 1 (1.0: N devices train N times as fast)."""
    one = {(r["model"], r["augment"], r["precision"]): r["img_per_s"] for r in results
           if r["devices"] == 1}
    out = []
    for r in results:
        key = (r["model"], r["augment"], r["precision"])
        if r["devices"] > 1 and key in one:
            out.append({"model": r["model"], "augment": r["augment"], "precision": r["precision"],
                        "devices": r["devices"], "img_per_s": r["img_per_s"],
                        "img_per_s_per_device": r["img_per_s_per_device"],
                        "img_per_s_1_device": one[key],
                        "scaling_efficiency": round(r["img_per_s"] / (r["devices"] * one[key]), 3)})
    return out


PEER_MODELS = ("vgg19", "baseline")


def run_peer(script, model, *, style="typical", batch_size=128, epochs=3, python=None) -> dict:
    """Run the PyTorch peer (../shared/bench/peer_torch.py) and return its JSON line."""
    cmd = [python or sys.executable, os.fspath(script), "--model", model, "--style", style,
           "--bs", str(batch_size), "--epochs", str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"{script}: the peer failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


def peer_ratio(peer: dict, results) -> dict:
    """Keras img/s (its best case of the model WITH augmentation) over the peer's."""
    ours = [r["img_per_s"] for r in results if r["model"] == peer["model"] and r["augment"] == "on"]
    best = max(ours) if ours else None
    return {"peer": peer.get("peer"), "model": peer["model"], "peer_img_per_s": peer["img_per_s"],
            "keras_img_per_s": best,
            "keras_over_peer": round(best / peer["img_per_s"], 2) if best else None}
