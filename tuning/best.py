"""The end of a search: the best trial retrained on all of Training (within make train's budget
when the search has one), evaluated on PublicTest and PrivateTest without test-time augmentation; released
(ten-crop reports, export, model card: ``keras_fer.release``) only when asked.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_fer import rundir
from keras_fer.durations import minutes, parse_duration
from keras_fer.errors import UserError
from keras_fer.evaluate import evaluate_run, report_path
from keras_fer.io_utils import read_json, write_json, write_text
from tuning.budget import EVAL_RESERVE_S, Deadline
from tuning.hypermodel import FERHyperModel

EVAL_SPLITS = ("PublicTest", "PrivateTest")
SEARCH_FILE = "search.json"
NOISE_MARGIN = 0.1  # a score this close to a constant prediction's ranks noise


def best_trial(tuner):
    """The completed trial with the best score; a tie goes to the first trial, so that the
    same search always names the same best (KerasTuner's order of tied trials can change when
    a search is reloaded)."""
    done = [t for t in tuner.oracle.trials.values()
            if t.status == "COMPLETED" and t.score is not None]
    if not done:
        raise UserError(f"{tuner.project_dir}: no completed trial to retrain (a larger "
                        "--time-budget lets one finish)")
    sign = -1.0 if tuner.oracle.objective.direction == "max" else 1.0
    return min(done, key=lambda t: (sign * t.score, str(t.trial_id)))


def default_values(oracle) -> dict:
    """The values of the oracle's space at its defaults (``--fix``-ed ones at their value)."""
    import keras_tuner as kt

    hps = kt.HyperParameters()
    for hp in oracle.hyperparameters.space:
        hps.merge([hp])
        if hps.is_active(hp):
            hps.values[hp.name] = hp.default
    return hps.values


def constant_score(labels, objective: str) -> float:
    """The score of always predicting the most common validation class: what a network that
    learned nothing gets (accuracy: its share; macro-F1: its F1, 2p/(1+p), over the classes
    that have images)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    counts = counts[counts > 0]
    p = counts.max() / counts.sum()
    return float(p) if objective == "val_accuracy" else float(2 * p / (1 + p) / len(counts))


def trial_to_retrain(tuner, chance=None):
    """(trial, note). The best trial; but when no trial scored ``NOISE_MARGIN`` above
    ``chance`` (``constant_score``), the trials were too short to rank anything, so the
    defaults' trial (the first of a search, see ``tuning.search.defaults_first``) is retrained
    instead, and the note says so."""
    best = best_trial(tuner)
    if chance is None or best.score > chance + NOISE_MARGIN:
        return best, None
    name = tuner.oracle.objective.name
    why = (f"no trial scored more than {NOISE_MARGIN} above always predicting the most common "
           f"class ({name} {chance:.3f}; best {best.score:.3f}): the trials were too short to "
           "rank configurations (a larger --time-budget gives longer ones)")
    defaults = default_values(tuner.oracle)
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: str(t.trial_id)):
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        if trial.status == "COMPLETED" and values == defaults:
            return trial, f"{why}; retraining the space's defaults (trial {trial.trial_id}) instead"
    return best, f"{why}; retraining trial {best.trial_id} anyway"


def read_baseline(run_dir) -> dict:
    """``{"run_dir", "PublicTest"}``: the PublicTest accuracy of ``make train``'s run in
    ``run_dir`` (its ``eval/report.json``, which ``make train`` writes), to print beside the
    search's best; UserError when there is none."""
    path = report_path(run_dir)
    report = read_json(path) if Path(path).is_file() else {}
    split = report.get("splits", {}).get("PublicTest") if isinstance(report, dict) else None
    if not split or "accuracy" not in split:
        raise UserError(f"--baseline {run_dir}: no PublicTest accuracy in {path} (make train "
                        "writes it; or python -m keras_fer.evaluate RUN_DIR --split PublicTest)")
    return {"run_dir": str(run_dir), "PublicTest": float(split["accuracy"])}


def retrain_best(tuner, space, base, data, budget, estimator=None, chance=None,
                 baseline=None) -> Path:
    """Retrain the best trial's configuration (``trial_to_retrain``) into
    ``PROJECT/best_trial_<id>`` with ``retrain_trial``: within ``budget.retrain_s`` (make train's
    budget), cut at the end of the whole budget should its warm-up be too short to fix the epochs;
    evaluated on PublicTest and PrivateTest. ``baseline`` (``read_baseline``) is recorded beside
    it in ``search.json``; when the best is make train's recipe, the baseline's run is its
    retraining (``reuse_baseline``)."""
    trial, note = trial_to_retrain(tuner, chance)
    if note:
        print(f"warning: {note}", flush=True)
    out = Path(tuner.project_dir) / f"best_trial_{trial.trial_id}"
    deadline = None if budget.end is None else budget.end - EVAL_RESERVE_S
    if baseline is not None and not retrained(out):
        reuse_baseline(tuner, trial, space, base, data, out, budget.retrain_s, baseline, note)
    retrain_trial(tuner, trial, space, base, data, out, budget.retrain_s, deadline,
                  EVAL_SPLITS, note)
    if baseline is not None:
        search = read_json(out / SEARCH_FILE)
        write_json(out / SEARCH_FILE, {**search, "baseline": baseline})
    return out


def budget_text(seconds) -> str | None:
    """A retraining's budget as its config and ``search.json`` record it ("840s"; None without
    one): what ``--rank`` compares to reuse a retraining."""
    return None if seconds is None else f"{round(seconds)}s"


def retraining_config(trial, space, base, data, out):
    """``(cfg, train_labels)``: what ``retrain_trial`` trains for ``trial`` into ``out``, before
    its budget: ``base`` without its ``limit``, at ``trial``'s point of ``space``."""
    from keras_fer.train import select_data

    full = base.replace(limit=None, out=str(out))
    (_, y), _, classes = select_data(full, data)
    hm = FERHyperModel(full, len(classes), y, space=space)
    # one line per epoch, as the trials print (Keras' progress bar is for a terminal alone)
    return hm.config_for(trial.hyperparameters).replace(
        out=str(out), verbose=2 if base.verbose else 0), y


def reuse_baseline(tuner, trial, space, base, data, out, retrain_s, baseline, note=None) -> bool:
    """When ``trial``'s retraining is ``baseline``'s run (make train's: the same configuration,
    data and budget, evaluated on ``EVAL_SPLITS``), copy that run to ``out`` instead of
    training it again, say so and return True: the search kept make train's recipe."""
    from keras_fer.experiments.runner import SAME_RUN_IGNORES, copy_run, same_settings

    run = Path(baseline["run_dir"])
    cfg, _ = retraining_config(trial, space, base, data, out)
    saved = read_json(run / "config.json") if (run / "config.json").is_file() else {}
    report = read_json(report_path(run)) if report_path(run).is_file() else {}
    budget_s = parse_duration(saved.get("time_budget")) if saved.get("time_budget") else None
    same = (retrained(run) and same_settings(saved, cfg, (*SAME_RUN_IGNORES, "out", "epochs",
                                                           "time_budget"))
            and budget_s == retrain_s and set(EVAL_SPLITS) <= set(report.get("splits", {})))
    if not same:
        return False
    print(f"trial {trial.trial_id} is make train's recipe with make train's budget: its "
          f"retraining is {run} (the same configuration and data), copied to {out}, not "
          "trained again", flush=True)
    copy_run(run, out)
    write_search_record(out, tuner, trial, space, base, saved.get("epochs"),
                        budget_text(retrain_s), note,
                        copied_from=str(run))
    return True


def write_search_record(out, tuner, trial, space, base, epochs, budget, note, **extra) -> None:
    """``out/search.json``: the trial a retraining trained (its score, hyperparameters, search),
    the retraining's epochs and budget, ``note``, and ``extra``."""
    write_json(Path(out) / SEARCH_FILE, {
        "trial_id": trial.trial_id, "score": trial.score, "objective": tuner.oracle.objective.name,
        "space": space.name, "hyperparameters": trial.hyperparameters.values,
        "search_dir": str(tuner.project_dir), "trial_limit": base.limit,
        "retrain_epochs": epochs, "retrain_budget": budget, "note": note, **extra})


def retrained(out) -> bool:
    """Whether the run folder ``out`` holds a finished retraining (its summary)."""
    return (Path(out) / rundir.SUMMARY_FILE).is_file()


def retrain_trial(tuner, trial, space, base, data, out, retrain_s=None, deadline=None,
                  splits=EVAL_SPLITS, note=None) -> Path:
    """Retrain ``trial``'s configuration on all of Training (``base`` without its ``limit``, at
    most ``base.epochs``) into the run folder ``out``: within ``retrain_s`` seconds (make train's
    budget, ``keras_fer.budget.train_within``: the epochs are fixed after the second), or for
    ``base.epochs`` without a budget; should its warm-up be too short to fix the epochs, it is
    cut at ``deadline`` (a ``tuning.budget.clock`` time) instead. Then ``eval/report.json`` on
    the ``splits`` that have images, without test-time augmentation, and ``search.json`` (the
    trial, its score, the retraining's budget, ``note``). A finished one is kept as it is
    (delete it to retrain); an interrupted one resumes."""
    from keras_fer.budget import train_within
    from keras_fer.durations import check_budget

    out = Path(out)
    splits = [s for s in splits if np.any(data.splits == s)]
    if retrained(out):
        print(f"trial {trial.trial_id} was retrained already: {out} (delete it to retrain)")
    else:
        cfg, y = retraining_config(trial, space, base, data, out)
        callbacks, within = (), ""
        if retrain_s is not None:
            budgeted = cfg.replace(time_budget=budget_text(retrain_s))
            try:
                check_budget(budgeted)
                cfg, within = budgeted, f" within {minutes(retrain_s)} (make train's budget)"
            except UserError:  # a warm-up too short to fix the epochs after the second: cut
                callbacks = [Deadline(deadline)]
        print(f"retraining trial {trial.trial_id} (score {trial.score:.4f}) on all {len(y):,} "
              f"Training images, at most {cfg.epochs} epoch(s){within} -> {out}", flush=True)
        train_within(cfg, data, callbacks=callbacks)
        # after the run: train refuses to start in a folder of files that are not a run's
        write_search_record(out, tuner, trial, space, base, cfg.epochs, cfg.time_budget, note)
    if not report_path(out).is_file():
        evaluate_run(out, data, splits=splits, tta="none")
    return out


def summary_line(run_dir) -> str:
    """``best: DIR: trial N retrained E epochs; PublicTest accuracy ..., PrivateTest ...``, and
    ``search best 0.63 vs make train's recipe 0.62 (PublicTest)`` with a baseline."""
    search, summary = read_json(Path(run_dir) / SEARCH_FILE), read_json(Path(run_dir) / rundir.SUMMARY_FILE)
    report = read_json(report_path(run_dir))
    scores = ", ".join(f"{name} accuracy {m['accuracy']:.4f} (macro-F1 {m['macro_f1']:.4f})"
                       for name, m in report["splits"].items())
    line = (f"best: trial {search['trial_id']} retrained for {summary['epochs_run']} epoch(s) -> "
            f"{run_dir}; {scores}, no test-time augmentation")
    baseline, public = search.get("baseline"), report["splits"].get("PublicTest")
    if baseline and public:
        line += (f"\nsearch best {public['accuracy']:.4f} vs make train's recipe "
                 f"{baseline['PublicTest']:.4f} (PublicTest; {baseline['run_dir']})")
    elif public:
        line += ("\n(--baseline RUN_DIR, make train's run, prints its PublicTest accuracy "
                 "beside this one)")
    return line


def release_best(run_dir: Path, best_out: Path, data, force: bool) -> None:
    """Release the retrained best (``keras_fer.release``: reports with ten-crop, export, card),
    with a note of the trial that chose it."""
    from keras_fer.release import check_out

    search = read_json(Path(run_dir) / SEARCH_FILE)
    check_out(best_out, force)  # again: another process may have released one meanwhile
    notes = (f"Chosen by a KerasTuner search ({search['search_dir']}, space {search['space']}): "
             f"trial {search['trial_id']}, {search['objective']} {search['score']:.4f} on the "
             f"validation split; its hyperparameters are in `search.json`.")
    release_run(Path(run_dir), best_out, data, force, notes)


def release_run(run_dir: Path, best_out: Path, data, force: bool, notes: str) -> None:
    """``keras_fer.release`` in this process on TensorFlow, else in a TensorFlow subprocess;
    without TensorFlow (the JAX-only GPU machine) the run stays and the command is printed."""
    import keras

    from keras_fer.devices import tensorflow_installed, under_tensorflow
    from keras_fer.release import make_release

    if keras.backend.backend() == "tensorflow":
        make_release(run_dir, best_out, data=data, force=force, notes=notes)
        return
    notes_file = run_dir / "release_notes.md"
    write_text(notes_file, notes + "\n")
    argv = [str(run_dir), "--out", str(best_out), "--notes", str(notes_file)]
    argv += (["--data", str(data)] if data else []) + (["--force"] if force else [])
    if not tensorflow_installed():
        print(f"TensorFlow is not installed here, so the release (export) waits: on a machine "
              f"with it run  python -m keras_fer.release {' '.join(argv)}")
        return
    if under_tensorflow("keras_fer.release", argv) != 0:
        raise UserError(f"{run_dir}: releasing to {best_out} failed (see above)")
