"""What a run leaves for people: meta.json and summary.json, curves.png (loss, accuracy,
macro-F1; train vs validation) and the k-fold summary (each fold, mean ± std)."""
from __future__ import annotations

import time

import keras
import numpy as np

from keras_fer import rundir
from keras_fer.devices import device_name
from keras_fer.io_utils import write_json

CURVES = ("loss", "accuracy", "macro_f1")  # the panels of a run's curves.png


def plot_curves(rows, path, title="") -> None:
    """``curves.png`` of the history rows (dicts with epoch, loss, val_loss, ...), drawn by the
    one plotter, ``keras_fer.visualize.plots.curves``."""
    from keras_fer.visualize import plots

    columns = {k: [r.get(k, np.nan) for r in rows] for k in dict.fromkeys(k for r in rows for k in r)}
    plots.save(plots.curves({"": columns}, title, metrics=CURVES), path, dpi=90)


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


def finish_run(cfg, out, net, classes, history, best, clock, n_train, n_val, plan):
    """Write ``meta.json``, ``summary.json`` and ``curves.png`` of a finished run."""
    seconds, cpu_hours = round(clock.seconds(), 2), round(clock.cpu_seconds() / 3600, 5)
    best_epoch = None if best.best_epoch is None else best.best_epoch + 1
    meta = {"classes": list(classes), "input_shape": [int(d) for d in net.input_shape[1:]],
            "backend": keras.backend.backend(), "keras": keras.__version__,
            "model": str(cfg.model), "best_epoch": best_epoch, "best": best.best_logs,
            "train_seconds": seconds, "train_cpu_hours": cpu_hours, "device": device_name(),
            "distribution": plan.meta(), "finished": time.strftime("%Y-%m-%d %H:%M")}
    rundir.write_meta(out, meta)
    if history.rows:
        plot_curves(history.rows, out / "curves.png", title=f"{cfg.model} ({out.name})")
    last = history.rows[-1] if history.rows else {}
    write_json(out / rundir.SUMMARY_FILE, {
        "model": str(cfg.model), "monitor": cfg.monitor, "best_epoch": best_epoch,
        "best_value": best.best, "best": best.best_logs, "epochs_run": len(history.rows),
        "last": last, "train_images": n_train, "val_images": n_val, "val": cfg.val,
        "train_seconds": seconds, "train_cpu_hours": cpu_hours,
        "parameters": int(net.count_params())})
    if cfg.verbose:
        print(f"best {cfg.monitor} {best.best} at epoch {best_epoch}; wrote {out}", flush=True)
