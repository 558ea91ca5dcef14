"""Hyperband that keeps the space's defaults (the recipe ``make train`` trains) to the last round.

Short rounds rank fast starters first: on the 2-core CPU, ``make train``'s recipe scored below
mini-Xception after 630, 1,134 and 1,152 training steps and above it after 2,268, while it ends
12 points above it at full length (docs/measurements.md, 2026-12-05, fourth session). So when
the space's defaults have run in a round, they always take one of the next round's places (of a
round of at least two): the
search replaces the recipe only with a configuration that beats it at the longest trial length,
where the ranking holds. KerasTuner fills the other places with the round's best, as before.

It reads the oracle's bracket bookkeeping (``_brackets``, ``_get_size``, ``_get_epochs``,
``_remove_completed_brackets`` of KerasTuner 1.4: see tuning/README.md and the pin in
requirements.txt).
"""
from __future__ import annotations

import keras_tuner as kt

TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")


def is_defaults(trial, defaults: dict) -> bool:
    """Whether ``trial`` trains the space's defaults (``tuning.best.default_values``)."""
    values = {k: v for k, v in trial.hyperparameters.values.items() if k not in TUNER_KEYS}
    return values == defaults


class IncumbentHyperbandOracle(kt.oracles.HyperbandOracle):
    """KerasTuner's ``HyperbandOracle`` whose successive halving always takes on the space's
    defaults, once the round they ran in is full (KerasTuner's order: a bracket's first round is
    filled before any trial of it continues).

    Example:
        >>> oracle = IncumbentHyperbandOracle(kt.Objective("val_macro_f1", "max"), max_epochs=36)
    """

    def populate_space(self, trial_id):
        self._remove_completed_brackets()
        return self._continue_defaults(trial_id) or super().populate_space(trial_id)

    def _continue_defaults(self, trial_id):
        from tuning.best import default_values

        defaults = None
        for bracket in self._brackets:
            num, rounds = bracket["bracket_num"], bracket["rounds"]
            if len(rounds[0]) < self._get_size(num, 0):
                return None
            for r in range(1, len(rounds)):
                size = self._get_size(num, r)
                if size < 2 or len(rounds[r]) >= size:  # a round of one: KerasTuner's best
                    continue
                taken = {info["past_id"] for info in rounds[r]}
                for info in rounds[r - 1]:
                    trial = self.trials.get(info["id"])
                    if trial is None or trial.status != "COMPLETED" or trial.trial_id in taken:
                        continue
                    defaults = default_values(self) if defaults is None else defaults
                    if not is_defaults(trial, defaults):
                        continue
                    values = trial.hyperparameters.values.copy()
                    values.update({"tuner/trial_id": trial.trial_id,
                                   "tuner/epochs": self._get_epochs(num, r),
                                   "tuner/initial_epoch": self._get_epochs(num, r - 1),
                                   "tuner/bracket": self._current_bracket, "tuner/round": r})
                    rounds[r].append({"past_id": trial.trial_id, "id": trial_id})
                    return {"status": "RUNNING", "values": values}
        return None


class IncumbentHyperband(kt.Hyperband):
    """KerasTuner's ``Hyperband`` tuner over an ``IncumbentHyperbandOracle`` (the same
    arguments)."""

    def __init__(self, hypermodel=None, objective=None, max_epochs=100, factor=3, seed=None,
                 hyperparameters=None, max_consecutive_failed_trials=3, **kwargs):
        oracle = IncumbentHyperbandOracle(objective, max_epochs=max_epochs, factor=factor,
                                          seed=seed, hyperparameters=hyperparameters,
                                          max_consecutive_failed_trials=max_consecutive_failed_trials)
        super(kt.Hyperband, self).__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
