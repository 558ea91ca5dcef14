"""The results of an experiment: comparison table (CSV + Markdown), overlaid curves (PNG),
``commands.txt`` (exact commands, machine, date), ``configs/`` (each run's exact TrainConfig, so
the commands work from the committed files alone: ``runs/`` is not committed), ``results.json``
and ``index.html``."""
from __future__ import annotations

import datetime
import html
import math
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from keras_fer.experiments.runner import METRICS, run_top
from keras_fer.io_utils import atomic_path, write_json, write_text

CURVES = (("loss", "loss"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1"))


def _mean_std(values):
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def _fmt(mean, std):
    return "" if math.isnan(mean) else f"{mean:.4f} ± {std:.4f}"


def _published(figures) -> str:
    if figures is None:
        return ""
    if isinstance(figures, dict):
        return ", ".join(f"{k} {v}" for k, v in figures.items())
    return str(figures)


def comparison_table(exp, outcome) -> pd.DataFrame:
    """One row per run: n, validation accuracy / macro-F1 mean and std, the published figure,
    and PrivateTest accuracy for the chosen run only (empty for every other run); with a
    ``reference`` run, each run's mean validation accuracy minus the reference's."""
    rows = []
    for run in exp.runs:
        res = [r for r in outcome["results"] if r.run == run.name]
        row = {"run": run.name, "model": run.config.model, "n": len(res)}
        row["cpu_hours_mean"], row["cpu_hours_std"] = _mean_std(
            [r.best.get("train_cpu_hours", math.nan) for r in res])
        for m in METRICS:
            row[f"{m}_mean"], row[f"{m}_std"] = _mean_std([r.best.get(m, math.nan) for r in res])
        row["published"] = _published(exp.published.get(run.name))
        chosen = run.name == outcome["chosen"]
        row["chosen"] = "yes" if chosen else ""
        pm, ps = _mean_std(outcome["private"]) if chosen else (math.nan, math.nan)
        row["private_accuracy_mean"], row["private_accuracy_std"] = pm, ps
        rows.append(row)
    table = pd.DataFrame(rows)
    if exp.reference is not None:
        ref = table.loc[table["run"] == exp.reference, "val_accuracy_mean"].iloc[0]
        table.insert(table.columns.get_loc("published"), "val_accuracy_vs_reference",
                     table["val_accuracy_mean"] - ref)
    return table


def markdown_table(table: pd.DataFrame) -> str:
    head = ["run", "model", "n", "val accuracy", "val macro-F1", "val average accuracy", "published",
            "PrivateTest accuracy"]
    delta = "val_accuracy_vs_reference" in table
    if delta:
        head.insert(6, "val accuracy vs reference")
    hours = bool(table["cpu_hours_mean"].notna().any())  # runs of older versions have none
    if hours:
        head.insert(3, "train CPU-hours")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [r["run"] + (" (chosen)" if r["chosen"] else ""), r["model"], str(r["n"]),
                 _fmt(r["val_accuracy_mean"], r["val_accuracy_std"]),
                 _fmt(r["val_macro_f1_mean"], r["val_macro_f1_std"]),
                 _fmt(r["val_average_accuracy_mean"], r["val_average_accuracy_std"]), r["published"],
                 _fmt(r["private_accuracy_mean"], r["private_accuracy_std"])]
        if delta:
            cells.insert(6, "" if math.isnan(r["val_accuracy_vs_reference"])
                         else f"{r['val_accuracy_vs_reference']:+.4f}")
        if hours:
            cells.insert(3, "" if math.isnan(r["cpu_hours_mean"]) else f"{r['cpu_hours_mean']:.2f}")
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def plot_study_curves(exp, outcome, path) -> None:
    """Loss, accuracy and macro-F1 by epoch, one colour per run (repeats averaged), drawn by the
    one plotter, ``keras_fer.visualize.plots.curves``."""
    from keras_fer.visualize import plots

    histories, missing = {}, []
    for run in exp.runs:
        res = [r for r in outcome["results"] if r.run == run.name]
        mean = {}
        for key in (p + k for k, _ in CURVES for p in ("", "val_")):
            curves = [r.history[key] for r in res if r.history.get(key)]
            if curves:
                n = min(len(cv) for cv in curves)
                mean[key] = np.nanmean([cv[:n] for cv in curves], axis=0)
        histories[run.name] = mean
        if not mean:
            missing.append(run.name)
    # rows reused from results written before they kept their curves have none to draw
    title = exp.name + (f" (no curves kept for: {', '.join(missing)})" if missing else "")
    plots.save(plots.curves(histories, title, metrics=[k for k, _ in CURVES]), path, dpi=90)


def machine() -> str:
    import keras

    cpu = platform.processor() or platform.machine()
    return (f"{platform.node()} | {platform.platform()} | {cpu}, {os.cpu_count()} CPUs | "
            f"Python {platform.python_version()} | keras {keras.__version__} "
            f"({keras.backend.backend()} backend)")


def run_tops(outcome) -> list:
    """Each run's own folder once (a cross-validated run's folds share their parent's)."""
    tops = []
    for r in outcome["results"]:
        top = run_top(r.run_dir)
        if top not in tops:
            tops.append(top)
    return tops


def write_configs(outcome, folder) -> list:
    """Copy each run's config.json to ``folder/<run>.json`` (committed beside the table) and drop
    configs of runs no longer in the results; returns the written paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for top in run_tops(outcome):
        dst = folder / f"{top.name}.json"
        if (top / "config.json").is_file():
            write_text(dst, (top / "config.json").read_text())
        elif not dst.is_file():  # a row measured before is reused only beside its config copy
            raise FileNotFoundError(f"{top}/config.json and {dst}")
        written.append(dst)
    for stale in set(folder.glob("*.json")) - set(written):
        stale.unlink()
    return written


def commands_text(exp, outcome, argv, configs) -> str:
    cmd = shlex.join([sys.executable.rsplit("/", 1)[-1], "-m", "keras_fer.experiments", *argv])
    lines = [f"# {exp.name}: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
             f"# machine: {machine()}", cmd, "", "# each run, alone:"]
    lines += [f"python -m keras_fer.train --config {shlex.quote(str(c))}" for c in configs]
    return "\n".join(lines) + "\n"


def write_results(exp, outcome, out, argv) -> dict:
    """Write every file of ``out`` (experiments/results/NAME/); returns their paths."""
    out = Path(out)
    table = comparison_table(exp, outcome)
    paths = {k: out / f for k, f in (("csv", "table.csv"), ("md", "table.md"), ("png", "curves.png"),
                                     ("commands", "commands.txt"), ("json", "results.json"),
                                     ("html", "index.html"))}
    with atomic_path(paths["csv"]) as tmp:
        table.to_csv(tmp, index=False)
    md = markdown_table(table)
    header = f"# {exp.name}\n\n{exp.description}\n\nSource: {exp.source}\n\n"
    if exp.reference is not None:
        header += f"Reference run (\"vs reference\" is validation accuracy minus its): {exp.reference}\n\n"
    notes = f"\n## How our results differ\n\n{exp.notes}\n" if exp.notes else ""
    write_text(paths["md"], header + md + _left_out(exp) + notes)
    plot_study_curves(exp, outcome, paths["png"])
    configs = write_configs(outcome, out / "configs")
    commands = commands_text(exp, outcome, argv, configs)
    write_text(paths["commands"], commands)
    write_json(paths["json"], {
        "name": exp.name, "chosen": outcome["chosen"], "rule": exp.report_private,
        "monitor": exp.base.monitor, "private_accuracy": outcome["private"],
        "left_out": exp.left_out,
        "runs": result_rows(outcome)})
    write_text(paths["html"], _html(exp, table, commands))
    return paths


def result_rows(outcome) -> list:
    """results.json's rows: each run's kept metrics, its curves and, for the chosen run, its
    PrivateTest figure, so a later run of the study on another machine can reuse them."""
    chosen = iter(outcome["private"])
    keys = [p + k for k, _ in CURVES for p in ("", "val_")]
    rows = []
    for r in outcome["results"]:
        row = {"run": r.run, "seed": r.seed, "run_dir": str(r.run_dir), "best": r.best,
               "history": {k: r.history[k] for k in keys if k in r.history}}
        if r.run == outcome["chosen"]:
            row["private_accuracy"] = next(chosen)
        rows.append(row)
    return rows


def _left_out(exp) -> str:
    if not exp.left_out:
        return ""
    return (f"\nNot run this time (`--runs`), so not in the table or the choice: "
            f"{', '.join(exp.left_out)}.\n")


def _html(exp, table, commands) -> str:
    e = html.escape
    shown = table.copy()
    for m in (*METRICS, "private_accuracy"):
        shown[m] = [_fmt(a, b) for a, b in zip(shown.pop(f"{m}_mean"), shown.pop(f"{m}_std"))]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(exp.name)}</title></head>"
            f"<body><h1>{e(exp.name)}</h1><p>{e(exp.description)}</p><p>Source: {e(exp.source)}</p>"
            f"{shown.to_html(index=False, na_rep='')}<p>{e(_left_out(exp).strip())}</p>"
            f"<p>PrivateTest is reported only for the run chosen on validation "
            f"({e(exp.report_private)}).</p><img src='curves.png' alt='curves'>"
            f"<h2>Notes</h2><p>{e(exp.notes)}</p><h2>Commands</h2><pre>{e(commands)}</pre>"
            f"<p><a href='table.csv'>table.csv</a> · <a href='table.md'>table.md</a></p></body></html>\n")
