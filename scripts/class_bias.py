"""What a bias on one class's log-probability trades: accuracy, that class's recall and macro-F1
on PublicTest, for a sweep of biases (issue 41: fear's recall). PublicTest only: a bias is a
choice, and PrivateTest chooses nothing.

    python scripts/class_bias.py RUN_DIR --data data [--class fear] [--biases 0,0.3,0.6,0.7,1]

One JSON line per bias: {"bias", "accuracy", "recall", "macro_f1"}.
"""
import argparse
import json

import numpy as np

from keras_fer.evaluate.scores import compute_metrics


def sweep(probs, labels, classes, name, biases) -> list:
    """One dict per bias: the scores of argmax(log(probs) + bias on class ``name``)."""
    log_probs = np.log(np.maximum(np.asarray(probs, "float64"), 1e-12))
    index = list(classes).index(name)
    rows = []
    for bias in biases:
        shifted = log_probs.copy()
        shifted[:, index] += bias
        m = compute_metrics(labels, shifted.argmax(axis=1), classes)
        rows.append({"bias": float(bias), "accuracy": round(m["accuracy"], 4),
                     "recall": round(m["per_class"][name]["recall"], 4),
                     "macro_f1": round(m["macro_f1"], 4)})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--data", default="data")
    p.add_argument("--class", dest="name", default="fear")
    p.add_argument("--biases", default="0,0.3,0.6,0.7,1")
    args = p.parse_args()
    from keras_fer import rundir
    from keras_fer.data import load
    from keras_fer.evaluate import predict_proba

    images, labels = load(args.data).split("PublicTest")
    probs = predict_proba(rundir.load_model(args.run), images)
    for row in sweep(probs, labels, rundir.class_names(args.run), args.name,
                     [float(b) for b in args.biases.split(",")]):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
