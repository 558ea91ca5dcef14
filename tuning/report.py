"""The end of a search: the table of trials (CSV, printed), the plot of score by trial and the
plot of score against each hyperparameter (PNGs, beside the table)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from keras_fer.io_utils import atomic_path, read_json

FIXED_COLUMNS = ["trial", "status", "score", "best_epoch", "epochs", "seconds", "steps_per_s"]
HPARAMS_PNG = "hyperparameters.png"


def trials_table(trials, project_dir, timing_file: str = "timing.json") -> pd.DataFrame:
    """One row per trial: id, status, score, best epoch, epochs, seconds, steps/s, then
    hyperparameters.

    ``trials``: KerasTuner ``Trial`` objects; ``timing.json`` in each trial folder (written by
    the tuner, see tuning.plan) gives the epochs, wall time and speed; missing values are left
    empty. A trial the time budget cut is "CUT" (it runs again when the search is resumed).
    """
    rows = []
    for trial in sorted(trials, key=lambda t: t.trial_id):
        path = Path(project_dir) / f"trial_{trial.trial_id}" / timing_file
        timing = read_json(path) if path.is_file() else {}
        status = str(trial.status)
        if status == "RUNNING" and timing.get("cut"):
            status = "CUT"
        row = {"trial": trial.trial_id, "status": status, "score": trial.score,
               "best_epoch": trial.best_step, "epochs": timing.get("epochs"),
               "seconds": timing.get("seconds"), "steps_per_s": timing.get("steps_per_s")}
        row.update({k: v for k, v in trial.hyperparameters.values.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=FIXED_COLUMNS)
    return table


def write_report(table: pd.DataFrame, out_dir, objective: str) -> tuple[Path, Path]:
    """Write ``trials.csv``, ``trials.png`` (score by trial, and the best so far) and
    ``HPARAMS_PNG`` (``plot_hyperparameters``) atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    csv_path, png_path = out_dir / "trials.csv", out_dir / "trials.png"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    scores = pd.to_numeric(table["score"], errors="coerce")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    idx = range(len(table))
    ax.plot(idx, scores, "o", label="trial")
    ax.plot(idx, scores.cummax(), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.set_xticks(list(idx), [str(t) for t in table["trial"]], rotation=90, fontsize=7)
    ax.set_title(f"{objective} by trial ({int(scores.notna().sum())} completed)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    plot_hyperparameters(table, out_dir / HPARAMS_PNG, objective)
    return csv_path, png_path


def hyperparameter_columns(table: pd.DataFrame) -> list:
    """The hyperparameters that took more than one value (KerasTuner's tuner/... aside)."""
    return [c for c in table.columns if c not in FIXED_COLUMNS and not str(c).startswith("tuner/")
            and table[c].dropna().astype(str).nunique() > 1]


def plot_hyperparameters(table: pd.DataFrame, path, objective: str) -> Path:
    """``hyperparameter_figure`` as a PNG at ``path``."""
    import matplotlib.pyplot as plt

    fig = hyperparameter_figure(table, objective)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def hyperparameter_figure(table: pd.DataFrame, objective: str):
    """One panel per hyperparameter that varied: each completed trial's score against its
    value (numbers on a log axis when they span a factor of 10 or more, else categories), so
    that a user sees which knobs moved the score; trials of different lengths (Hyperband's
    rounds, ``tuner/epochs``) in their own colours, since a longer trial scores higher."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    done = table[pd.to_numeric(table.get("score"), errors="coerce").notna()] if len(table) else table
    columns = hyperparameter_columns(done) if len(done) else []
    cols = min(3, max(1, len(columns)))
    rows = max(1, -(-len(columns) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(columns):]:
        ax.axis("off")
    if not columns:
        axes.flat[0].text(0.5, 0.5, "no hyperparameter varied over the completed trials",
                          ha="center", va="center", fontsize=8)
    scores = pd.to_numeric(done["score"], errors="coerce") if len(done) else None
    length = done["tuner/epochs"] if "tuner/epochs" in done else pd.Series(0, index=done.index)
    groups = sorted(length.dropna().unique())

    def plot(ax, x, present):
        for g in groups:  # one colour per trial length
            sel = present & (length == g)
            label = f"{int(g)} epochs" if len(groups) > 1 else None
            ax.plot([x[i] for i in np.flatnonzero(sel[present])], scores[sel], "o", alpha=0.7,
                    label=label)

    for k, (ax, name) in enumerate(zip(axes.flat, columns)):
        present = done[name].notna()  # a conditional one is absent where its condition is off
        values = done[name][present]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all() and not any(isinstance(v, (bool, np.bool_)) for v in values):
            plot(ax, list(numeric), present)
            if numeric.min() > 0 and numeric.max() / numeric.min() >= 10:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # 2x10^-5 ... ran together
            else:  # at most 4 ticks, small rates as 1.3e-4, not 0.0001325 run together
                ax.locator_params(axis="x", nbins=4)
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 4), useOffset=False)
            ax.tick_params(axis="x", labelsize=7)
        else:
            text = [str(v) for v in values]
            labels = sorted(set(text))
            plot(ax, [labels.index(v) for v in text], present)
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel(str(name), fontsize=8)
        ax.set_ylabel(objective, fontsize=8)
        if k == 0 and len(groups) > 1:
            ax.legend(fontsize=7, title="trial length", title_fontsize=7)
    fig.suptitle(f"{objective} against each hyperparameter ({len(done)} completed trials)",
                 fontsize=9)
    fig.tight_layout()
    return fig
