"""A search that a user can plan: the expected trials, the budget gate before each trial, the
trial's ETA lines and its measurements (``timing.json`` in its folder).

``budgeted(tuner_cls)`` is the KerasTuner tuner class with those added; ``SearchPlan`` holds the
budget, the estimator and the shape of the search (which epochs the next trials train).
"""
from __future__ import annotations

import math
from pathlib import Path

from keras_fer.durations import minutes
from keras_fer.io_utils import read_json, write_json
from tuning.budget import (
    BudgetSpent,
    Deadline,
    TrialClock,
    fitting_trials,
    hms,
    hyperband_epochs,
    retrain_plan,
)

TIMING_FILE = "timing.json"


class SearchPlan:
    """What the rest of a search will do, from measured trials.

    Args:
        budget: a ``tuning.budget.Budget``.
        estimator: a ``tuning.budget.Estimator``.
        kind: the tuner ("hyperband": trials of different lengths, see ``hyperband_epochs``).
        epochs: epochs a trial trains (Hyperband: the most).
        max_trials: trials in all.
        n_train, n_val: images a trial trains and validates on; ``batch_size`` theirs.
        retrain: ``(n_train, n_val, n_eval, epochs)`` of the best's retraining, None without.
        verbose: ETA lines after each epoch.
        min_epochs: Hyperband's shortest trial (``tuning.fidelity``).
        note: what the search will and will not do (``tuning.fidelity.Fidelity.note``).

    Example:
        >>> plan = SearchPlan(Budget(600), Estimator(calibration), "random", 10, 20, 2000, 400, 128)
        >>> plan.expected(created=0, pending=[])  # [(epochs, seconds)] of the trials that fit
    """

    def __init__(self, budget, estimator, kind, epochs, max_trials, n_train, n_val, batch_size,
                 retrain=None, verbose=True, min_epochs=1, note=""):
        self.budget, self.estimator, self.epochs, self.max_trials = budget, estimator, epochs, max_trials
        self.schedule = hyperband_epochs(epochs, 3, min_epochs) if kind == "hyperband" else None
        self.min_epochs, self.note = min_epochs, note
        self.n_train, self.n_val, self.batch_size = n_train, n_val, batch_size
        self.retrain, self.verbose = retrain, verbose
        self.created, self.pending = 0, []

    def steps(self) -> int:
        return max(1, math.ceil(self.n_train / self.batch_size))

    def trial_epochs(self, values) -> int:
        """Epochs a trial of hyperparameter ``values`` trains in this search."""
        if "tuner/epochs" in values:
            return int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0))
        return self.epochs

    def upcoming(self, created, pending) -> list:
        """Epochs of the trials still to run: the interrupted ones first, then new ones."""
        out = list(pending)
        for i in range(created, self.max_trials):
            if self.schedule is not None and i >= len(self.schedule):
                break
            out.append(self.schedule[i] if self.schedule is not None else self.epochs)
        return out

    def expected(self, created=None, pending=None, seconds=None) -> list:
        """[(epochs, seconds)] of the next trials that fit in ``seconds`` (default: what is left
        of the search phase)."""
        created = self.created if created is None else created
        pending = self.pending if pending is None else pending
        seconds = self.budget.search_left() if seconds is None else seconds
        return fitting_trials(self.upcoming(created, pending), self.estimator, seconds)

    def retrain_estimate(self):
        """(epochs, seconds) of the best's retraining in its share of the budget, or None; with
        a budget, the retraining's own (``budget.retrain_s``): at most its epochs within it."""
        if self.retrain is None:
            return None
        if self.budget.retrain_s is not None:
            return self.retrain[3], self.budget.retrain_s
        if not self.estimator.known():
            return None
        n_train, n_val, n_eval, epochs = self.retrain
        timing = {k: self.estimator.mean(k) for k in ("img_per_s", "val_images", "val_seconds",
                                                     "setup_seconds")}
        share = math.inf if self.budget.end is None else self.budget.end - self.budget.search_end
        return retrain_plan(timing, n_train, n_val, n_eval, epochs, share)

    def eta(self, trial_left) -> str:
        """The search's ETA after the running trial (``trial_left`` seconds more)."""
        nxt = self.expected(self.created, self.pending, self.budget.search_left() - trial_left)
        search = min(trial_left + sum(s for _, s in nxt), max(0.0, self.budget.search_left()))
        text = f"search ETA {hms(search)} ({len(nxt)} more trial(s) fit)"
        retrain = self.retrain_estimate()
        return text + (f", then about {minutes(retrain[1])} retraining" if retrain else "")

    def sync(self, oracle) -> None:
        """Trials created so far and the interrupted ones waiting to run again (KerasTuner runs
        those first); a remote oracle (a worker's) tells neither: counted as nothing done."""
        trials = getattr(oracle, "trials", None)
        if trials is None:
            return
        ongoing = {t.trial_id for t in getattr(oracle, "ongoing_trials", {}).values()}
        self.created = len(trials)
        self.pending = [self.trial_epochs(t.hyperparameters.values) for t in trials.values()
                        if str(t.status) == "RUNNING" and t.trial_id not in ongoing]


def read_timings(project_dir) -> list:
    """The ``timing.json`` of every trial of a project that ran to its end (not cut)."""
    out = []
    for path in sorted(Path(project_dir).glob(f"trial_*/{TIMING_FILE}")):
        timing = read_json(path)
        if not timing.get("cut"):
            out.append(timing)
    return out


def budgeted(tuner_cls):
    """``tuner_cls`` that, with a ``SearchPlan`` in ``tuner.plan``: starts no trial whose
    estimate does not fit in the search phase (``BudgetSpent``), cuts a running trial at its end
    (``Deadline``: the trial stays unfinished and runs first on a resumed search), prints ETA
    lines, and records every trial's measurements in its folder's ``timing.json``."""

    class Budgeted(tuner_cls):
        plan = None

        def pre_create_trial(self):
            super().pre_create_trial()
            plan = self.plan
            if plan is None or plan.budget.search_end is None:
                return
            plan.sync(self.oracle)
            upcoming = plan.upcoming(plan.created, plan.pending)
            if not upcoming or not plan.estimator.known():
                return
            need, left = plan.estimator.trial_seconds(upcoming[0]), plan.budget.search_left()
            if need > left:
                raise BudgetSpent(f"time budget: the next trial ({upcoming[0]} epoch(s), about "
                                  f"{minutes(need)}) does not fit in the {minutes(max(0, left))} "
                                  "left for the search: no new trial")

        def run_trial(self, trial, *args, **kwargs):
            plan = self.plan
            epochs = plan.trial_epochs(trial.hyperparameters.values) if plan else kwargs.get("epochs")
            if plan is not None:
                plan.sync(self.oracle)  # this trial is ongoing now: not counted as waiting
                est = plan.estimator.trial_seconds(epochs) if plan.estimator.known() else None
                print(f"{self.tuner_id}: trial {trial.trial_id}: {epochs} epoch(s)"
                      + (f", about {minutes(est)}; {plan.eta(est)}" if est is not None else ""),
                      flush=True)
            deadline = Deadline(plan.budget.search_end if plan else None)
            timer = TrialClock(f"trial {trial.trial_id}", epochs, plan.steps() if plan else 1,
                               plan.n_train if plan else 1, plan.n_val if plan else 0,
                               eta=plan.eta if plan else None, verbose=bool(plan and plan.verbose))
            kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [timer, deadline]
            results = super().run_trial(trial, *args, **kwargs)
            timing = {**timer.timing(), "tuner_id": self.tuner_id, "cut": deadline.cut}
            write_json(Path(self.get_trial_dir(trial.trial_id)) / TIMING_FILE, timing)
            if deadline.cut:
                raise BudgetSpent(f"time budget: trial {trial.trial_id} cut after "
                                  f"{timing['epochs']} epoch(s) at the end of the search's time; "
                                  "it runs again first when the search is resumed")
            if plan is not None:
                plan.estimator.add(timing)
            print(f"{self.tuner_id}: trial {trial.trial_id} trained {timing['epochs']} epoch(s) in "
                  f"{timing['seconds']:.1f} s ({timing['steps_per_s']:.1f} steps/s)", flush=True)
            return results

    Budgeted.__name__ = tuner_cls.__name__
    return Budgeted


def first_lines(plan, why, space, kind, resumed_done=0) -> list:
    """The search's first lines: the budget and why, the expected trials and how to ask for
    more; then the plan in detail."""
    b = plan.budget
    trials = plan.expected()
    count = f"about {len(trials)} trial(s)" if plan.estimator.known() else "trials not estimated"
    retrain = plan.retrain_estimate()
    then = "then the best retrained" if plan.retrain else "no retraining (--no-retrain)"
    if b.seconds is None:
        head = f"no time budget ({why}): {count}, {then}"
    else:
        more = "2h" if b.seconds < 7200 else f"{math.ceil(2 * b.seconds / 3600)}h"
        head = (f"time budget {minutes(b.seconds)} ({why}): {count}, {then}; "
                + (f"{plan.note}; " if plan.note else "")
                + f"for more time: --time-budget {more} (make tune BUDGET={more}), or none for "
                "no limit")
    src = (f"{len(plan.estimator.measured)} measured trial(s)" if plan.estimator.measured
           else "a few steps of the space's default configuration")
    least = f"{plan.min_epochs}-" if plan.schedule is not None and plan.min_epochs > 1 else "up to "
    detail = (f"plan: {kind} over the {space} space, {least}{plan.epochs} epoch(s) a trial on "
              f"{plan.n_train:,} Training images, validated on {plan.n_val:,}; {count} "
              f"({resumed_done} done earlier, at most {plan.max_trials} in all) in about "
              f"{minutes(sum(s for _, s in trials))}, estimated from {src}")
    lines = [head, detail]
    if retrain and b.retrain_s is not None:
        lines.append(f"then: the best retrained on all {plan.retrain[0]:,} Training images within "
                     f"{minutes(b.retrain_s)} (make train's budget, recipes/cpu.json; at most "
                     f"{retrain[0]} epochs) and evaluated on PublicTest and PrivateTest")
    elif retrain:
        lines.append(f"then: the best retrained on all {plan.retrain[0]:,} Training images for about "
                     f"{retrain[0]} epoch(s) and evaluated on PublicTest and PrivateTest, about "
                     f"{minutes(retrain[1])}")
    return lines


def trials_done(oracle) -> int:
    return sum(1 for t in getattr(oracle, "trials", {}).values() if str(t.status) == "COMPLETED")


__all__ = ["SearchPlan", "budgeted", "first_lines", "read_timings", "trials_done", "TIMING_FILE"]
