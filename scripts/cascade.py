"""Could a cascade answer faster than the fast model at its accuracy? A small network answers the
faces it is most confident about, the fast model the rest (issue 38: half of ``fer``'s latency
and twice its img/s, 2 points above it). Accuracy on PublicTest for each share the small one
answers, from both models' float32 probabilities. PublicTest only: the share and its confidence
cut would be choices, and PrivateTest chooses nothing.

    python scripts/cascade.py SMALL_RUN saved_models/fast --data data [--shares 0.5,0.6,0.7,0.8]

One JSON line per share: {"share", "cut", "accuracy", "small_there", "big_there"}: the small
model's lowest confidence (top probability) that it still answers, the cascade's accuracy, and
each model's accuracy on the faces the small one answers. A face's cost is the small model's
time plus ``1 - share`` of the fast model's.
"""
import argparse
import json

import numpy as np


def sweep(small, big, labels, shares) -> list:
    """One dict per share: the small model answers its ``share`` most confident faces (ties by
    order), the big one the others."""
    small, big, labels = np.asarray(small), np.asarray(big), np.asarray(labels)
    confidence = small.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    rows = []
    for share in shares:
        k = int(round(share * len(labels)))
        mine = np.zeros(len(labels), bool)
        mine[order[:k]] = True
        pred = np.where(mine, small.argmax(axis=1), big.argmax(axis=1))

        def on_mine(probs):  # a model's accuracy on the faces the small one answers
            return round(float(np.mean(probs.argmax(axis=1)[mine] == labels[mine])), 4) if k else None

        rows.append({"share": float(share),
                     "cut": round(float(confidence[order[k - 1]]), 4) if k else None,
                     "accuracy": round(float(np.mean(pred == labels)), 4),
                     "small_there": on_mine(small), "big_there": on_mine(big)})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("small")
    p.add_argument("big")
    p.add_argument("--data", default="data")
    p.add_argument("--shares", default="0.5,0.6,0.7,0.8,0.9")
    args = p.parse_args()
    from keras_fer import rundir
    from keras_fer.data import load
    from keras_fer.evaluate import predict_proba

    images, labels = load(args.data).split("PublicTest")
    small, big = (predict_proba(rundir.load_model(run), images) for run in (args.small, args.big))
    for row in sweep(small, big, labels, [float(s) for s in args.shares.split(",")]):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
