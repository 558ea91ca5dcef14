"""Does a search's ranking mean something? ``python -m tuning ... --rank K`` reopens a finished
search (no new trial), retrains K of its completed trials, spread over its scores, the way its
best is retrained (``tuning.best.retrain_trial``: all of Training within make train's budget),
evaluates each on PublicTest (never PrivateTest: nothing here may choose by it; the search's
retrained best is reused when it was retrained with the same budget), and reports the
Spearman rank correlation between the trials' scores and the retrained accuracies in
``PROJECT/rank.json`` and ``PROJECT/rank.md`` (a table for tuning/README.md).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from keras_fer import rundir
from keras_fer.durations import flag, minutes, parse_duration
from keras_fer.errors import UserError
from keras_fer.evaluate import report_path
from keras_fer.io_utils import read_json, write_json, write_text

RANK_DIR = "rank"  # PROJECT/rank/trial_<id>: run folders, as PROJECT/best_trial_<id>
RANK_JSON, RANK_MD = "rank.json", "rank.md"
SPLIT = "PublicTest"
SCORE_EPS = 1e-6  # a score within this of the constant predictor's is that predictor's


def hyperparameters(trial) -> dict:
    """The trial's configuration: its values without KerasTuner's ``tuner/...`` bookkeeping."""
    return {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}


def candidates(trials, chance=None) -> list:
    """The completed trials that scored above ``chance`` (the constant predictor's score), one
    per configuration, best first; ties go to the lower trial id (as ``best_trial`` breaks them),
    so the same search always gives the same order. A configuration that Hyperband trained in
    several rounds counts once, with its best score (as the search's best is chosen)."""
    done = [t for t in trials if str(t.status) == "COMPLETED" and t.score is not None
            and (chance is None or t.score > chance + SCORE_EPS)]
    done.sort(key=lambda t: (-t.score, str(t.trial_id)))
    seen, out = set(), []
    for t in done:
        key = repr(sorted(hyperparameters(t).items()))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def pick(ranked: list, k: int) -> list:
    """``k`` of ``ranked`` (best first) evenly spaced in rank order: the best, the worst, and
    between them those at the positions i (n - 1) / (k - 1) rounded half up (exact integers:
    positions at least 1 apart, so ``k`` distinct trials when ``k <= n``)."""
    n = len(ranked)
    if k < 2 or k > n:
        raise ValueError(f"pick {k} of {n}")
    return [ranked[(2 * i * (n - 1) + k - 1) // (2 * (k - 1))] for i in range(k)]


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n of ``values``; tied values share the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def spearman(a, b) -> float:
    """Spearman's rank correlation of ``a`` and ``b``: Pearson's of their average ranks (as
    ``scipy.stats.spearmanr``); NaN when either is constant."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb / denom) if denom > 0 else math.nan


def rank_trials(args, space, cfg, data, tuner, budget, why, chance, cpu_search,
                reloaded="") -> int:
    """Retrain ``args.rank`` trials of ``tuner``'s search (``pick`` over ``candidates``) into
    ``PROJECT/rank/trial_<id>`` within make train's budget each (without a budget on a GPU
    search: ``cfg.epochs``, as its best), stopping before one that ``budget`` (the whole
    command's) cannot cover; then ``rank.json`` and ``rank.md``. The exit code."""
    from tuning import best  # Keras: not for importing this module
    from tuning.budget import EVAL_RESERVE_S, clock, make_train_budget

    k, project, objective = args.rank, Path(tuner.project_dir), tuner.oracle.objective.name
    ranked = candidates(tuner.oracle.trials.values(), chance)
    if len(ranked) < k:
        raise UserError(f"{project}: --rank {k} needs {k} completed trials that score above "
                        f"always predicting the most common class ({objective} {chance:.4f}); "
                        f"this search has {len(ranked)}: run it longer, or rank fewer")
    picked = pick(ranked, k)
    retrain_s = make_train_budget() if budget.seconds is not None or cpu_search else None
    outs = [run_dir_for(project, t, retrain_s) for t in picked]
    each = (f"{minutes(retrain_s)} (make train's budget)" if retrain_s is not None
            else f"{cfg.epochs} epoch(s) (no budget, as the best's)")
    todo = sum(not best.retrained(o) for o in outs)
    need = None if retrain_s is None else retrain_s + EVAL_RESERVE_S
    line = (f"ranking: retraining {k} trials, about {k} x {each}, each on all of Training, then "
            f"evaluated on {SPLIT} -> {project / RANK_DIR}; {k - todo} retrained earlier; ")
    if budget.end is None:
        line += f"no time budget ({why})"
    else:
        fit = min(todo, int(budget.left() // need)) if need else todo
        line += f"time budget {minutes(budget.seconds)} ({why}): {fit} of the {todo} left fit"
        if fit < todo:
            total = 300 * math.ceil((clock() - budget.start + todo * need) / 300)
            line += (f" (for all: --time-budget {flag(total)}; else run the same "
                     "command again to continue)")
    print(line, flush=True)
    print(reloaded, end="", flush=True)
    for trial, out in zip(picked, outs):
        if not best.retrained(out) and need is not None and budget.left() < need:
            done = sum(best.retrained(o) for o in outs)
            print(f"time budget: {minutes(max(0.0, budget.left()))} left, less than a "
                  f"retraining ({minutes(need)} with its setup and evaluation): stopping with "
                  f"{done} of {k} retrained; run the same command again to continue", flush=True)
            break
        deadline = None if retrain_s is None else clock() + retrain_s
        best.retrain_trial(tuner, trial, space, cfg, data, out, retrain_s, deadline, (SPLIT,),
                           note=f"ranking: {k} trials of the search")
    result = write_ranking(args, project, objective, picked, outs, retrain_s)
    print(result["table"])
    print(f"wrote {project / RANK_JSON} and {project / RANK_MD}")
    return 0


def run_dir_for(project: Path, trial, retrain_s) -> Path:
    """Where ``trial``'s retraining is: ``PROJECT/rank/trial_<id>``, unless only the search's
    own retrained best (``PROJECT/best_trial_<id>``) holds it, retrained exactly so (the same
    budget): the best is not trained twice."""
    from tuning import best

    ranked = project / RANK_DIR / f"trial_{trial.trial_id}"
    retrained = project / f"best_trial_{trial.trial_id}"
    if not best.retrained(ranked) and best.retrained(retrained) \
            and (retrained / best.SEARCH_FILE).is_file():
        budget = read_json(retrained / best.SEARCH_FILE).get("retrain_budget")
        if budget == best.budget_text(retrain_s):
            return retrained
    return ranked


def row(trial, out: Path) -> dict:
    from tuning import best

    values = trial.hyperparameters.values
    r = {"trial_id": str(trial.trial_id), "score": float(trial.score),
         "trial_epochs": values.get("tuner/epochs"), "hyperparameters": hyperparameters(trial),
         "run_dir": str(out), SPLIT: None, "epochs": None, "seconds": None}
    if best.retrained(out) and report_path(out).is_file():
        summary, report = read_json(out / rundir.SUMMARY_FILE), read_json(report_path(out))
        r.update({SPLIT: float(report["splits"][SPLIT]["accuracy"]),
                  "epochs": summary["epochs_run"], "seconds": summary["train_seconds"]})
    return r


def write_ranking(args, project, objective, picked, outs, retrain_s) -> dict:
    """``rank.json`` and ``rank.md``; rho only once all ``picked`` are retrained (a partial
    correlation would read as the search's)."""
    from tuning import best

    rows = [row(t, o) for t, o in zip(picked, outs)]
    complete = all(r[SPLIT] is not None for r in rows)
    rho = spearman([r["score"] for r in rows], [r[SPLIT] for r in rows]) if complete else None
    result = {"command": getattr(args, "command", None), "search_dir": str(project),
              "objective": objective, "split": SPLIT, "k": len(rows),
              "retrained": sum(r[SPLIT] is not None for r in rows),
              "retrain_budget": best.budget_text(retrain_s),
              "spearman_rho": None if rho is None or math.isnan(rho) else round(rho, 4),
              "date": time.strftime("%Y-%m-%d"), "trials": rows}
    table = markdown(result)
    write_json(project / RANK_JSON, result)
    write_text(project / RANK_MD, table + "\n")
    return {**result, "table": table}


def markdown(result) -> str:
    """The table for tuning/README.md: one row per trial, best score first, with the
    hyperparameters that differ between them; then rho and the command."""
    import pandas as pd

    from tuning.report import hyperparameter_columns

    rows = result["trials"]
    varying = hyperparameter_columns(pd.DataFrame([r["hyperparameters"] for r in rows]))

    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    head = ["trial", f"trial {result['objective']}", f"retrained {SPLIT} accuracy", "epochs",
            "min", *varying]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        acc = "" if r[SPLIT] is None else f"{r[SPLIT]:.4f}"
        mins = "" if r["seconds"] is None else f"{r['seconds'] / 60:.1f}"
        lines.append("| " + " | ".join([r["trial_id"], f"{r['score']:.4f}", acc,
                                        cell(r["epochs"]), mins,
                                        *(cell(r["hyperparameters"].get(c)) for c in varying)]) + " |")
    if result["retrained"] < result["k"]:
        tail = (f"Spearman rho: once all {result['k']} are retrained ({result['retrained']} so "
                "far; run the same command again to continue).")
    else:
        rho = result["spearman_rho"]
        tail = (f"Spearman rho {'undefined (a constant column)' if rho is None else f'{rho:.2f}'} "
                f"between the trial scores and the retrained {SPLIT} accuracies of "
                f"{result['k']} trials ({result['date']}).")
    budget = result["retrain_budget"]
    within = (f"within {minutes(parse_duration(budget))} (make train's budget)" if budget
              else "for the config's epochs")
    return "\n".join(lines + ["", tail, f"Each retrained on all of Training {within}: "
                              f"`{result['command']}`"])
