import json

import pytest


@pytest.fixture(scope="module")
def tune_env(fer_small, tmp_path_factory):
    """(data folder holding fer2013.npz, base config JSON) for tiny searches."""
    from keras_fer.data import save_npz

    tmp = tmp_path_factory.mktemp("tune")
    save_npz(fer_small, tmp / "data" / "fer2013.npz")
    base = tmp / "base.json"
    base.write_text(json.dumps({"batch_size": 16, "tensorboard": False, "verbose": 0}))
    return tmp / "data", base


@pytest.fixture
def hyperband_trial_epochs(tmp_path):
    """``f(max_epochs, min_epochs=None)``: the epochs each trial trains, in order, as KerasTuner's
    own Hyperband oracle (factor 3, seed 1) creates them, after ``tuning.search.set_min_epochs``
    where ``min_epochs`` is given."""
    import functools

    return functools.partial(_hyperband_trial_epochs, tmp_path)


def _hyperband_trial_epochs(tmp_path, max_epochs, min_epochs=None) -> list:
    import keras_tuner as kt
    import numpy as np

    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle = kt.oracles.HyperbandOracle(kt.Objective("score", "max"), max_epochs=max_epochs,
                                        factor=3, hyperparameters=hp, seed=1)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    if min_epochs is not None:
        from tuning.search import set_min_epochs

        set_min_epochs(oracle, min_epochs)
    got = []
    while True:
        trial = oracle.create_trial("t")
        if trial.status != "RUNNING":
            return got
        values = trial.hyperparameters.values
        got.append(values["tuner/epochs"] - values["tuner/initial_epoch"])
        oracle.update_trial(trial.trial_id, {"score": float(np.random.rand())})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
