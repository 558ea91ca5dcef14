"""The end of a search: the table of trials (CSV, printed) and the plot of score by trial (PNG)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from keras_fer.io_utils import atomic_path, read_json

FIXED_COLUMNS = ["trial", "status", "score", "best_epoch", "epochs", "seconds", "steps_per_s"]


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
    """Write ``trials.csv`` and ``trials.png`` (score by trial, and the best so far) atomically."""
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
    return csv_path, png_path
