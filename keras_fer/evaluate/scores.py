"""The scores of an evaluation report from scikit-learn (confusion matrix, per-class precision /
recall / F1 / support), with the two choices of this toolkit on top: macro-F1 and average
accuracy are means over the classes that have images, and every class is reported, support 0
included; their printed table and the confusion-matrix PNG. (The Keras metrics streamed during
training are ``keras_fer.metrics``.)"""
from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class (every class, present or not)."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    return sk_confusion(np.ravel(y_true), np.ravel(y_pred), labels=np.arange(num_classes)).astype(np.int64)


def compute_metrics(y_true, y_pred, classes) -> dict:
    """Metrics of integer predictions ``y_pred`` against labels ``y_true``.

    Returns ``accuracy``, ``macro_f1`` (mean F1 of the classes that have images in
    ``y_true``: a class the data lacks would add a 0 that says nothing about the model),
    ``weighted_f1``, ``average_accuracy`` (mean recall of the same classes: the row-normalised
    confusion-matrix diagonal), ``per_class`` (name -> precision, recall, f1, support; every
    class, support 0 included), ``confusion`` (counts, list of lists) and ``n``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    classes = list(classes)
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred {y_pred.size}")
    n = int(y_true.size)
    labels = np.arange(len(classes))
    cm = confusion_matrix(y_true, y_pred, len(classes))
    if n:
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0)
    else:
        precision = recall = f1 = np.zeros(len(classes))
        support = np.zeros(len(classes), dtype=np.int64)
    present = support > 0
    return {
        "n": n,
        "accuracy": float(np.trace(cm) / n) if n else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / n) if n else 0.0,
        "average_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                             "f1": float(f1[i]), "support": int(support[i])}
                      for i, name in enumerate(classes)},
        "confusion": cm.tolist(),
    }


def format_report(name, m) -> str:
    """A printable block: headline numbers and the per-class table."""
    lines = [f"{name} (n={m['n']}): accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
             f"weighted-F1 {m['weighted_f1']:.4f}  average accuracy {m['average_accuracy']:.4f}",
             f"  {'class':<10} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for cls, r in m["per_class"].items():
        lines.append(f"  {cls:<10} {r['precision']:>9.4f} {r['recall']:>9.4f} {r['f1']:>9.4f} "
                     f"{r['support']:>8d}")
    empty = [cls for cls, r in m["per_class"].items() if not r["support"]]
    if empty:
        lines.append(f"  no images of {', '.join(empty)}: not in macro-F1 nor average accuracy")
    return "\n".join(lines)


def plot_confusion(path, m, title) -> None:
    """Row-normalised confusion-matrix PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_fer.io_utils import atomic_path

    cm = np.asarray(m["confusion"], dtype=np.float64)
    rows = np.broadcast_to(cm.sum(axis=1, keepdims=True), cm.shape)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    classes = list(m["per_class"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(f"{title}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
