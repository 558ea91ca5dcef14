"""Why does the ablation's batch-norm CNN fail to train under SGD 0.01? Count the head's dead
ReLU units during the first epoch, for a few (model, learning rate) pairs.

A unit is dead when its ReLU output is 0 on every one of 1,000 PublicTest images (drawn
at random with ``--seed``: the split is stored by class). Also printed:
the mean squared norm of the head's input vector at initialisation, |x|^2, which sets how far
one SGD step moves a head unit's pre-activation (a step changes w.x by about lr * delta * |x|^2
when x is all positive, as it is after ReLU and pooling).

    python scripts/dead_units.py --data data [--models baseline,batchnorm] [--lrs 0.01,0.001]

One JSON line per (model, lr): {"model", "lr", "head_input_sq_norm", "dead": {step: count}}.
With ``--trained RUN_DIR ...`` it counts instead the dead head units of each finished run's
``model.keras`` (inference mode: batch norm's moving statistics, as the model is used), one JSON
line per run: {"run", "dead", "units", "accuracy", "accuracy_batch_stats"} (the accuracies on
those images with batch norm on its moving statistics, and on each batch's own statistics).
"""
import argparse
import json
import math

import keras
import numpy as np

from keras_fer.config import TrainConfig
from keras_fer.data import load
from keras_fer.train.core import build_net, build_training_model, select_data
from keras_fer.train.optimizers import build_optimizer

STEPS = (0, 10, 25, 50, 100, 200, 448)


def head_probe(net):
    """A model from the input to (the head's input vector, the head's ReLU outputs)."""
    features = net.get_layer("features")
    return keras.Model(net.input, [features.input, features.output])


def run_probe(probe, images, batch=500):
    """The probe in training mode, so batch norm uses batch statistics as the training step
    does (its moving averages lag far behind in the first epoch); the head has no dropout
    before ``features``, and the block CNNs of the ablation have none in their blocks."""
    parts = [probe(images[i:i + batch], training=True) for i in range(0, len(images), batch)]
    return [np.concatenate([keras.ops.convert_to_numpy(p[k]) for p in parts]) for k in (0, 1)]


def count_dead(outputs) -> int:
    """Units (columns of ``outputs``, a batch of ReLU outputs) that are 0 on every image."""
    return int(np.sum(np.max(outputs, axis=0) <= 0))


def dead_count(probe, images) -> int:
    _, out = run_probe(probe, images)
    return count_dead(out)


class Counter(keras.callbacks.Callback):
    def __init__(self, probe, images):
        super().__init__()
        self.probe, self.images, self.dead = probe, images, {}

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 in STEPS:
            self.dead[batch + 1] = dead_count(self.probe, self.images)


def head_input_sq_norm(probe, images) -> float:
    """Mean over ``images`` of |x|^2, x the head's input vector (training-mode batch norm)."""
    head_in, _ = run_probe(probe, images)
    return float(np.mean(np.sum(np.square(head_in), axis=1)))


def sample(images, n, seed, labels=None):
    """``n`` images drawn at random (seeded), as float32 (n, H, W, 1), with their labels when
    given. Not the first ``n``: the splits are stored by class, so those are one or two classes."""
    idx = np.sort(np.random.default_rng(seed).choice(len(images), size=min(n, len(images)),
                                                     replace=False))
    picked = images[idx, ..., None].astype("float32")
    return picked if labels is None else (picked, labels[idx])


def measure(model, lr, data, seed):
    cfg = TrainConfig(model=model, epochs=1, batch_size=64, seed=seed, val="PublicTest",
                      optimizer={"name": "sgd", "learning_rate": lr, "momentum": 0.9})
    (x, y), (vx, _), classes = select_data(cfg, data)
    keras.utils.set_random_seed(seed)
    net = build_net(cfg, len(classes))
    probe = head_probe(net)
    probe_images = sample(vx, 1000, seed)
    sq_norm = head_input_sq_norm(probe, sample(x, 500, seed))
    counter = Counter(probe, probe_images)
    counter.dead[0] = dead_count(probe, probe_images)
    tm = build_training_model(net, cfg, optimizer=build_optimizer(cfg.optimizer), train_labels=y)
    steps = math.ceil(len(y) / cfg.batch_size)
    tm.fit((x[..., None], y), y, batch_size=cfg.batch_size, epochs=1, verbose=0,
           callbacks=[counter], steps_per_epoch=min(steps, max(STEPS)))
    return {"model": model, "lr": lr, "seed": seed,
            "head_input_sq_norm": round(sq_norm, 2),
            "units": int(net.get_layer("features").units), "dead": counter.dead}


def trained_dead(run_dir, images, labels) -> dict:
    """Dead head units of a finished run's model, and its accuracy on ``images`` two ways:
    as the model is used (batch norm on its moving statistics) and with batch norm on the
    statistics of each batch of 500 (as in training; the head's dropout stays off). A large gap
    says the moving statistics, not the weights, are what fails at inference."""
    net = keras.saving.load_model(f"{run_dir}/model.keras")
    features = net.get_layer("features")
    out, probs = keras.Model(net.input, [features.output, net.output]).predict(
        images, batch_size=500, verbose=0)  # one inference pass gives both
    used = probs.argmax(axis=1)
    _, feats = run_probe(head_probe(net), images)  # after: it moves the moving statistics
    batch_stats = keras.ops.convert_to_numpy(net.get_layer("predictions")(feats)).argmax(axis=1)
    return {"run": str(run_dir), "dead": count_dead(out), "units": int(features.units),
            "accuracy": round(float(np.mean(used == labels)), 4),
            "accuracy_batch_stats": round(float(np.mean(batch_stats == labels)), 4)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="data")
    p.add_argument("--models", default="baseline,batchnorm")
    p.add_argument("--lrs", default="0.01,0.001")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trained", nargs="+", metavar="RUN_DIR")
    args = p.parse_args(argv)
    data = load(args.data)
    if args.trained:
        images, labels = data.split("PublicTest")
        images, labels = sample(images, 1000, args.seed, labels)
        for run_dir in args.trained:
            print(json.dumps(trained_dead(run_dir, images, labels)), flush=True)
        return
    for model in args.models.split(","):
        for lr in (float(v) for v in args.lrs.split(",")):
            print(json.dumps(measure(model, lr, data, args.seed)), flush=True)


if __name__ == "__main__":
    main()
