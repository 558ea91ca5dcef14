"""What the end of a search retrains: the best trial, or the defaults' when every score is noise;
the first trial of every search is the space's defaults; a Hyperband trial's schedule and EMA
span its own epochs."""
from types import SimpleNamespace

import keras_tuner as kt
import numpy as np
import pytest

from tuning.best import NOISE_MARGIN, constant_score, default_values, trial_to_retrain
from tuning.search import defaults_first
from tuning.spaces import SPACES


def test_constant_score_is_the_most_common_class_predicted_always():
    labels = np.array([0, 0, 0, 1, 2, 2, 0, 0])  # class 0: 5 of 8
    assert constant_score(labels, "val_accuracy") == pytest.approx(5 / 8)
    # F1 of class 0: precision 5/8, recall 1 -> 10/13; classes 1, 2: 0; mean over 3 classes
    assert constant_score(labels, "val_macro_f1") == pytest.approx(10 / 13 / 3)
    assert constant_score(np.array([3, 3, 5]), "val_macro_f1") == pytest.approx(0.8 / 2)  # 2 present


def _oracle(space="efficient"):
    hp = kt.HyperParameters()
    SPACES[space].declare(hp)
    return kt.oracles.RandomSearchOracle(objective=kt.Objective("val_macro_f1", "max"),
                                         max_trials=5, hyperparameters=hp, seed=1)


def test_the_first_trial_is_the_defaults_then_random_points():
    oracle = _oracle()
    defaults_first(oracle)
    first = oracle._random_values()
    assert first == {"model": "vgg13", "width": 0.75, "optimizer": "sgd", "sgd_learning_rate": 0.05,
                     "schedule": "cosine", "label_smoothing": 0.1, "l2": 0.0005, "erasing": 0.5,
                     "mix": "none", "ema": True}
    assert first == default_values(oracle)
    oracle._tried_so_far.add("a trial")  # as after the first trial (or a reloaded search)
    assert oracle._random_values() != first


def _tuner(scores, first_values):
    oracle = _oracle()
    trials = {}
    for i, score in enumerate(scores):
        values = dict(first_values) if i == 0 else {**first_values, "mix": "cutmix"}
        hp = kt.HyperParameters()
        hp.values.update({**values, "tuner/epochs": 2})
        trials[f"{i:02d}"] = SimpleNamespace(trial_id=f"{i:02d}", status="COMPLETED", score=score,
                                             hyperparameters=hp)
    oracle.trials = trials
    return SimpleNamespace(oracle=oracle, project_dir="p")


@pytest.mark.parametrize("scores, chance, expected, warned", [
    ([0.30, 0.45, 0.40], 0.057, "01", False),            # learned: the best
    ([0.09, 0.0995, 0.05], 0.057, "00", True),           # all noise: the defaults' trial
    ([0.09, 0.0995, 0.05], None, "01", False),           # no chance given: the best
])
def test_the_best_is_retrained_unless_all_scores_are_noise(scores, chance, expected, warned):
    tuner = _tuner(scores, default_values(_oracle()))
    trial, note = trial_to_retrain(tuner, chance)
    assert trial.trial_id == expected and bool(note) == warned
    if warned:
        assert f"no trial scored more than {NOISE_MARGIN} above" in note and "(trial 00)" in note


def test_all_noise_without_a_defaults_trial_retrains_the_best_and_says_so():
    defaults = default_values(_oracle())
    tuner = _tuner([0.09, 0.0995], {**defaults, "erasing": 0.25})  # trial 00 is not the defaults
    trial, note = trial_to_retrain(tuner, 0.057)
    assert trial.trial_id == "01" and note.endswith("retraining trial 01 anyway")


def test_a_hyperband_trial_schedules_and_averages_over_its_own_epochs():
    from tuning.hypermodel import FERHyperModel

    hm = FERHyperModel(SPACES["efficient"].base({"epochs": 30}), 7,
                       train_labels=np.arange(28709) % 7, space="efficient")
    hp = kt.HyperParameters()
    SPACES["efficient"].declare(hp)
    assert hm.trial_epochs(hp) == 30 and hm.config_for(hp).epochs == 30
    hp.values.update({"tuner/epochs": 4, "tuner/initial_epoch": 2})  # continues a 2-epoch trial
    assert hm.trial_epochs(hp) == 2
    cfg = hm.config_for(hp, hm.trial_epochs(hp))
    # 2 x 225 steps: EMA over the last quarter (1 - 4 / 450), not 0.999; no warm-up (2 // 10)
    assert cfg.epochs == 2 and cfg.ema == pytest.approx(1 - 4 / 450)
    assert cfg.schedule == {"name": "cosine", "warmup_epochs": 0}
    assert hm.config_for(hp).ema == 0.999  # the retraining: the base's 30 epochs


def test_make_train_s_recipe_as_the_best_is_make_train_s_run_not_trained_again(tmp_path, capsys):
    """A CPU search whose best is its defaults (make train's recipe) with make train's budget
    copies the --baseline run (the same configuration and data) as its retraining; another
    point of the space, or another budget, is retrained."""
    import json

    from keras_fer import rundir
    from keras_fer.config import load_config
    from keras_fer.data import FERData
    from keras_fer.devices import native_precision
    from keras_fer.resources import recipe
    from tuning.best import SEARCH_FILE, reuse_baseline
    from tuning.cli import parse_args
    from tuning.fidelity import choose
    from tuning.search import base_config

    # all of Training's 225 steps an epoch, as make train's: a short run's EMA is shortened
    n = 28709 + 14
    data = FERData(np.zeros((n, 48, 48), dtype=np.uint8), np.arange(n) % 7,
                   np.repeat(["Training", "PublicTest", "PrivateTest"], [28709, 7, 7]))
    space = SPACES["efficient"]
    base = base_config(parse_args(["--data", str(tmp_path / "fer2013.npz")]), space, recipe=True)
    space = choose(space, base, 45 * 60, 1860, None, centred=True).space(space)
    run = tmp_path / "latest"  # make train's: its config as written, with its fixed epochs
    run.mkdir()
    # float32 where bfloat16 would be emulated, as make train's run records it
    config = native_precision(load_config(recipe("cpu")).replace(data=base.data, epochs=26,
                                                                 out=str(run)))[0]
    (run / "config.json").write_text(json.dumps(config.to_dict()))
    (run / rundir.SUMMARY_FILE).write_text(json.dumps({"epochs_run": 26}))
    (run / "model.keras").write_bytes(b"weights")
    (run / "eval").mkdir()
    (run / "eval" / "report.json").write_text(json.dumps(
        {"splits": {"PublicTest": {"accuracy": 0.6152}, "PrivateTest": {"accuracy": 0.6266}}}))
    tuner = SimpleNamespace(project_dir=tmp_path / "search",
                            oracle=SimpleNamespace(objective=SimpleNamespace(name="val_macro_f1")))
    baseline = {"run_dir": str(run), "PublicTest": 0.6152}

    def trial(**values):
        hp = kt.HyperParameters()
        space.declare(hp)
        hp.values.update(values)
        return SimpleNamespace(trial_id="08", score=0.42, hyperparameters=hp)

    out = tmp_path / "search" / "best_trial_08"
    assert not reuse_baseline(tuner, trial(model="mini_xception"), space, base, data, out, 840.0,
                              baseline)
    assert not reuse_baseline(tuner, trial(), space, base, data, out, 600.0, baseline)
    assert not out.exists()
    assert reuse_baseline(tuner, trial(), space, base, data, out, 840.0, baseline)
    assert "its retraining is" in capsys.readouterr().out
    assert (out / "model.keras").read_bytes() == b"weights"
    assert json.loads((out / "config.json").read_text())["out"] == str(out)
    search = json.loads((out / SEARCH_FILE).read_text())
    assert (search["copied_from"], search["retrain_budget"], search["trial_id"]) == (str(run), "840s", "08")
    assert json.loads((run / "config.json").read_text())["out"] == str(run)  # make train's untouched
