"""Run an experiment: every run (x repeats, seeds base.seed + i) through ``keras_fer.train.run``,
collect validation metrics, choose the configuration on validation, report PrivateTest for it.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.experiments.spec import BEST_VALIDATION, Experiment
from keras_fer.io_utils import read_json, write_json
from keras_fer.rundir import HISTORY_FILE, read_history, to_float

METRICS = ("val_accuracy", "val_macro_f1", "val_average_accuracy")


@dataclass
class RunResult:
    """One trained repeat (or fold) of one run."""
    run: str
    seed: int
    run_dir: Path
    best: dict  # the metrics of the epoch the trainer kept (best validation monitor)
    history: dict = field(default_factory=dict)  # column -> list over epochs
    private: float | None = None  # PrivateTest accuracy measured before (a reused row)


def run_top(run_dir) -> Path:
    """A run's own folder: a cross-validated run's ``fold*`` directories share their parent."""
    run_dir = Path(run_dir)
    return run_dir.parent if run_dir.name.startswith("fold") else run_dir


def collect(run_name, seed, run_dir) -> list:
    """RunResults of one trained run directory: itself, or its fold* sub-directories (k-fold).

    The validation metrics are those of the epoch the trainer kept (``summary.json`` "best")."""
    run_dir = Path(run_dir)
    dirs = sorted(p for p in run_dir.glob("fold*") if (p / "summary.json").is_file()) or [run_dir]
    out = []
    for d in dirs:
        if not (d / "summary.json").is_file() or not (d / HISTORY_FILE).is_file():
            raise UserError(f"{d}: no summary.json/history.csv (did the training run finish?)")
        summary = read_json(d / "summary.json")
        best = {**(summary.get("best") or {}), "train_cpu_hours": summary.get("train_cpu_hours")}
        out.append(RunResult(run_name, seed, d, {k: to_float(v) for k, v in best.items()},
                             read_history(d / HISTORY_FILE)))
    return out


def choose_run(exp: Experiment, results: list) -> str:
    """The run whose PrivateTest figure is reported: the file's choice, or the best mean
    validation ``base.monitor`` (val_loss: the lowest). PrivateTest never enters the choice."""
    if exp.report_private != BEST_VALIDATION:
        return exp.report_private
    monitor = exp.base.monitor
    means = {}
    for r in results:
        means.setdefault(r.run, []).append(r.best.get(monitor, math.nan))
    scored = {k: float(np.nanmean(v)) for k, v in means.items() if not np.all(np.isnan(v))}
    if not scored:
        raise UserError(f"{exp.path}: no run reported {monitor!r}; cannot choose on validation")
    pick = min if monitor == "val_loss" else max
    return pick(scored, key=scored.get)


def private_subset(data, limit):
    """``data`` with PrivateTest only (a stratified ``limit`` of it for smoke runs)."""
    from keras_fer.data import stratified_subset

    idx = np.flatnonzero(data.splits == "PrivateTest")
    if idx.size == 0:
        raise UserError("the data has no PrivateTest images to report the chosen run on")
    if limit is not None and limit < idx.size:
        idx = idx[np.sort(stratified_subset(data.labels[idx], limit, seed=0))]
    return data.select(idx)


def evaluate_private(run_dirs, data, limit=None) -> list:
    """PrivateTest accuracy of each run directory of the chosen configuration."""
    from keras_fer.evaluate import evaluate_run

    subset = private_subset(data, limit)
    return [float(evaluate_run(d, subset, splits=("PrivateTest",))["splits"]["PrivateTest"]["accuracy"])
            for d in run_dirs]


def run_experiment(exp: Experiment, *, out, data=None, repeats=None, limit=None, epochs=None,
                   progress=print, force=False, train_only=None) -> dict:
    """Train every run of ``exp`` (skipping repeats already finished in ``out``) and return
    ``{"results": [RunResult], "chosen": name, "private": [accuracy per repeat]}``.

    ``force``: retrain a run directory that holds a finished run of other settings (without
    it that is a UserError: see ``keras_fer.rundir.claim_out``). ``train_only`` (``--runs``):
    train only these runs; the others keep what was measured before (in ``out`` or its
    committed rows), and one with a repeat to train is left out of this time's table, so that a
    study lands a part at a time without losing the rows it has."""
    from keras_fer.budget import train_within as train_run  # keras_fer.train.run + time_budget
    from keras_fer.data import load

    out = Path(out)
    repeats = repeats or exp.repeats
    if data is None:
        data = load(exp.base.data, classes=exp.base.classes)
    jobs = [(r, i) for r in exp.runs for i in range(repeats)]
    results = []
    before = MeasuredBefore(out)
    skipped = []
    for k, (run, i) in enumerate(jobs, 1):
        if run.name in skipped:
            continue
        seed = run.config.seed + i
        overrides = {"seed": seed, "out": str(out / "runs" / f"{run.name}-seed{seed}")}
        if limit is not None:
            overrides["limit"] = limit
        if epochs is not None:
            overrides["epochs"] = epochs
        cfg = run.config.replace(**overrides)
        run_dir = Path(cfg.out)
        same = None if run_dir.exists() else find_same_run(cfg, out.parent)
        if (run_dir / "summary.json").is_file() and _same_config(run_dir, cfg):
            progress(f"[{k}/{len(jobs)}] {run.name} seed {seed}: done before, reusing {run_dir}")
        elif same is not None:
            progress(f"[{k}/{len(jobs)}] {run.name} seed {seed}: {same} was trained with the "
                     f"same settings and seed: copying it to {run_dir}")
            copy_run(same, run_dir)
        elif (rows := before.rows(run.name, seed, cfg)):
            progress(f"[{k}/{len(jobs)}] {run.name} seed {seed}: measured before with the same "
                     f"settings ({before.config_path(rows[0])}, {out / 'results.json'}); its run "
                     f"directory is not on this machine: reusing its figures")
            results.extend(rows)
            continue
        elif train_only is not None and run.name not in train_only:
            progress(f"[{k}/{len(jobs)}] {run.name} seed {seed}: not measured before and not in "
                     f"--runs: {run.name} is left out this time")
            skipped.append(run.name)
            continue
        else:
            progress(f"[{k}/{len(jobs)}] {run.name} seed {seed}: training {cfg.model} "
                     f"for {cfg.epochs} epochs -> {run_dir}")
            run_dir = Path(train_run(cfg, data, force=force))
        results.extend(collect(run.name, seed, run_dir))
    if train_only is not None:
        exp.keep([r.name for r in exp.runs if r.name not in skipped])
        results = [r for r in results if r.run not in skipped]
    chosen = choose_run(exp, results)
    private = private_figures([r for r in results if r.run == chosen], data, limit, progress)
    progress(f"chosen on validation: {chosen}; PrivateTest on {len(private)} model(s)")
    return {"results": results, "chosen": chosen, "private": private, "repeats": repeats}


def private_figures(chosen, data, limit, progress) -> list:
    """PrivateTest accuracy of each RunResult of the chosen run: its model evaluated where it is
    on this machine, else the figure measured before (NaN, said, where there is none)."""
    here = [r for r in chosen if (r.run_dir / "model.keras").is_file()]
    figures = evaluate_private([r.run_dir for r in here], data, limit) if here else []
    measured = dict(zip((id(r) for r in here), figures))
    out = []
    for r in chosen:
        value = measured.get(id(r), r.private)
        if value is None:
            progress(f"{r.run} seed {r.seed}: no PrivateTest figure: its model is not on this "
                     f"machine and none was measured before")
            value = math.nan
        out.append(float(value))
    return out


class MeasuredBefore:
    """The rows of a study's committed ``results.json`` whose run directories are not on this
    machine (a fresh clone, another machine): a (run, seed) whose committed config copy
    (``configs/<run>-seed<k>.json``) equals the run's settings is reused, not trained again,
    so a study long for one session lands a part at a time."""

    def __init__(self, out):
        self.out = Path(out)
        path = self.out / "results.json"
        self.saved = read_json(path) if path.is_file() else {}

    def config_path(self, result) -> Path:
        return self.out / "configs" / f"{run_top(result.run_dir).name}.json"

    def rows(self, run, seed, cfg) -> list:
        found = []
        for i, row in enumerate(self.saved.get("runs", [])):
            if row.get("run") != run or row.get("seed") != seed:
                continue
            history = {k: [to_float(x) for x in v] for k, v in (row.get("history") or {}).items()}
            found.append(RunResult(run, seed, Path(row["run_dir"]),
                                   {k: to_float(v) for k, v in row["best"].items()}, history,
                                   self._private(row, run, i)))
        if not found:
            return []
        config = self.config_path(found[0])
        if not config.is_file() or not same_settings(read_json(config), cfg, (*SAME_RUN_IGNORES, "out")):
            return []
        return found

    def _private(self, row, run, index):
        if "private_accuracy" in row:
            return row["private_accuracy"]
        # results written before the rows kept their own: one list, the chosen run's in order
        if self.saved.get("chosen") != run:
            return None
        order = [i for i, r in enumerate(self.saved["runs"]) if r.get("run") == run]
        figures = self.saved.get("private_accuracy") or []
        k = order.index(index)
        return figures[k] if k < len(figures) else None


# what does not change a run's result: a run on 1 device is the run on N, within rounding
SAME_RUN_IGNORES = ("verbose", "tensorboard", "devices")


def _same_config(run_dir, cfg, ignore=SAME_RUN_IGNORES) -> bool:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return False
    return same_settings(read_json(path), cfg, ignore)


def same_settings(saved: dict, cfg, ignore) -> bool:
    """Whether a run's saved config (its config.json) trains ``cfg``, but for ``ignore``."""
    return all(saved.get(k) == v for k, v in cfg.to_dict().items() if k not in ignore)


def find_same_run(cfg, results_root):
    """A finished run directory of another study (``results_root/*/runs/*``) trained with
    exactly ``cfg``'s settings and seed, its output folder aside, or None. The ablation's
    baseline is the grid's sgd_0.01: trained once, not twice."""
    for config in sorted(Path(results_root).glob("*/runs/*/config.json")):
        run_dir = config.parent
        if (not run_dir.name.endswith(".copying") and (run_dir / "summary.json").is_file()
                and _same_config(run_dir, cfg, ignore=(*SAME_RUN_IGNORES, "out"))):
            return run_dir
    return None


def copy_run(src, dst) -> None:
    """Copy the finished run directory ``src`` to ``dst`` (its resume checkpoint aside), each
    config.json's ``out`` moved along, via a temporary folder so a kill leaves no half copy."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(dst.name + ".copying")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("ckpt"))
    for config in tmp.rglob("config.json"):
        d = read_json(config)
        if isinstance(d.get("out"), str) and Path(d["out"]).parts[:len(src.parts)] == src.parts:
            d["out"] = str(dst.joinpath(*Path(d["out"]).parts[len(src.parts):]))
            write_json(config, d)
    tmp.rename(dst)
