"""Helpers of the release tests."""
import numpy as np


def report_of(confusion, classes=("a", "b", "c")):
    """An evaluate_run-like report whose PublicTest and PrivateTest have ``confusion``."""
    confusion = np.asarray(confusion)
    per_class = {}
    for i, name in enumerate(classes):
        tp, support, predicted = confusion[i, i], confusion[i].sum(), confusion[:, i].sum()
        p, r = tp / max(predicted, 1), tp / max(support, 1)
        per_class[name] = {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-9),
                           "support": int(support)}
    m = {"n": int(confusion.sum()), "accuracy": np.trace(confusion) / confusion.sum(),
         "macro_f1": 0.5, "weighted_f1": 0.5, "average_accuracy": 0.5, "per_class": per_class,
         "confusion": confusion.tolist()}
    return {"classes": list(classes), "splits": {"PublicTest": m, "PrivateTest": m}}
