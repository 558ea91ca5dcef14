"""What a run leaves for people: curves.png (loss, accuracy, macro-F1; train vs validation) and
the k-fold summary (each fold, mean ± std)."""
from __future__ import annotations

import numpy as np

from keras_fer.io_utils import atomic_path

CURVES = (("loss", "loss"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1"))


def plot_curves(rows, path, title="") -> None:
    """Three panels from the history rows (dicts with epoch, loss, val_loss, ...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (key, label) in zip(axes, CURVES):
        for prefix, name in (("", "train"), ("val_", "validation")):
            values = [r.get(prefix + key, np.nan) for r in rows]
            if not all(np.isnan(values)):
                ax.plot(epochs, values, marker="." if len(rows) < 30 else None, label=name)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def fold_summary(fold_results: list, keys=("val_accuracy", "val_macro_f1",
                                           "val_average_accuracy", "val_loss")) -> dict:
    """``{"folds": [...], "mean": {k: .}, "std": {k: .}}`` of the folds' best-epoch metrics
    (population std, as numpy's default)."""
    out = {"folds": fold_results, "mean": {}, "std": {}}
    for key in keys:
        values = [f["best"][key] for f in fold_results if key in f.get("best", {})]
        if values:
            out["mean"][key] = float(np.mean(values))
            out["std"][key] = float(np.std(values))
    return out


def format_folds(summary: dict) -> str:
    lines = []
    for f in summary["folds"]:
        best = f.get("best", {})
        lines.append(f"fold {f['fold']}: " + "  ".join(f"{k} {v:.4f}" for k, v in best.items()
                                                      if k.startswith("val_")))
    lines.append("mean ± std: " + "  ".join(f"{k} {summary['mean'][k]:.4f} ± {summary['std'][k]:.4f}"
                                            for k in summary["mean"]))
    return "\n".join(lines)
