"""tuning.incumbent: the CPU search's Hyperband keeps the space's defaults (make train's recipe)
to the last round, which short rounds would cut (docs/measurements.md)."""
import keras_tuner as kt

from tuning.incumbent import IncumbentHyperbandOracle, is_defaults
from tuning.search import defaults_first, set_min_epochs


def _bracket(oracle_cls, tmp_path):
    """The CPU search's first bracket (8 trials of 12 epochs, the best 3 continued to 36) over
    one hyperparameter whose default, trial 00's value, scores worst in every round."""
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0, default=0.5)
    oracle = oracle_cls(kt.Objective("score", "max"), max_epochs=36, factor=3,
                        hyperparameters=hp, seed=1)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    set_min_epochs(oracle, 12)
    defaults_first(oracle)
    got = []
    for _ in range(11):
        trial = oracle.create_trial("t")
        values = trial.hyperparameters.values
        got.append((values["tuner/epochs"], values["x"]))
        oracle.update_trial(trial.trial_id, {"score": 0.0 if values["x"] == 0.5 else values["x"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return got


def test_the_defaults_reach_the_last_round_beside_the_best_two(tmp_path):
    plain = _bracket(kt.oracles.HyperbandOracle, tmp_path / "plain")
    kept = _bracket(IncumbentHyperbandOracle, tmp_path / "kept")
    first = [x for epochs, x in kept[:8]]
    assert [epochs for epochs, _ in kept] == [12] * 8 + [36] * 3
    assert first == [x for _, x in plain[:8]] and first[0] == 0.5  # the same first round
    best = sorted(first, reverse=True)
    assert sorted(x for _, x in plain[8:]) == sorted(best[:3])  # KerasTuner: the best 3 only
    assert sorted(x for _, x in kept[8:]) == sorted([0.5, *best[:2]])


def test_is_defaults_ignores_the_tuners_bookkeeping():
    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id="3")
    trial.hyperparameters.values.update({"x": 0.5, "tuner/epochs": 36, "tuner/trial_id": "0"})
    assert is_defaults(trial, {"x": 0.5}) and not is_defaults(trial, {"x": 0.25})
