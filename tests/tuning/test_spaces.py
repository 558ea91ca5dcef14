"""The efficient space: named hyperparameters with defaults, centred on recipes/cpu_long.json."""
import json
from pathlib import Path

import keras_tuner as kt
import pytest

from keras_fer.errors import UserError
from tuning.search import fixed_hyperparameters
from tuning.spaces import SPACES, ema_momentum, get_space

EFFICIENT = SPACES["efficient"]
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "cpu_long.json"


def test_every_hyperparameter_is_named_with_a_default():
    hp = kt.HyperParameters()
    values = EFFICIENT.declare(hp)
    assert values == {"model": "vgg13", "width": 0.75, "optimizer": "sgd", "sgd_learning_rate": 0.05,
                      "adam_learning_rate": None, "schedule": "cosine", "label_smoothing": 0.1,
                      "l2": 5e-4, "erasing": 0.5, "mix": "none", "ema": True}
    assert [p.name for p in EFFICIENT.hyperparameters()] == list(values)
    ranges = {p.name: p.get_config() for p in EFFICIENT.hyperparameters()}
    assert ranges["model"]["values"] == ["vgg13", "vgg19", "mini_xception"]
    assert ranges["width"]["values"] == [0.25, 0.375, 0.5, 0.75]
    assert ranges["mix"]["values"] == ["none", "mixup", "cutmix"]
    adam = ranges["adam_learning_rate"]
    assert (adam["min_value"], adam["default"]) == (1e-4, 1e-3)
    with pytest.raises(UserError, match="unknown space 'fast'"):
        get_space("fast")


def test_the_defaults_are_the_cpu_long_recipe():
    recipe = json.loads(RECIPE.read_text())
    base = EFFICIENT.base({"epochs": recipe["epochs"]})
    cfg = EFFICIENT.apply(base, EFFICIENT.declare(kt.HyperParameters()), 225)  # 28,709 / 128
    for key in ("model", "model_args", "batch_size", "optimizer", "schedule", "loss",
                "mixed_precision", "ema"):
        assert getattr(cfg, key) == recipe[key], key
    assert cfg.augment == recipe["augment"]


def test_other_points_of_the_space():
    hp = kt.HyperParameters()
    hp.values.update(model="mini_xception", optimizer="adam", adam_learning_rate=3e-4,
                     schedule="step", mix="cutmix", ema=False, erasing=0.0)
    cfg = EFFICIENT.apply(EFFICIENT.base({"epochs": 9, "batch_size": 16}), EFFICIENT.declare(hp), 10)
    assert (cfg.model, cfg.model_args) == ("mini_xception", {"input_shape": [44, 44, 1]})
    assert cfg.optimizer == {"name": "adam", "learning_rate": 3e-4}
    assert cfg.schedule == {"name": "step", "every": 3, "factor": 0.1}
    assert cfg.augment["mix"] == "cutmix" and "erasing" not in cfg.augment and cfg.ema is None
    assert cfg.batch_size == 16 and cfg.augment["crop"] == 44
    # a short run's EMA averages over a quarter of its steps at most
    assert ema_momentum(2, 40) == pytest.approx(0.95) and ema_momentum(150, 225) == 0.999


def test_fix_takes_each_type():
    hp = fixed_hyperparameters(EFFICIENT, ["model=vgg19", "ema=false", "width=0.25",
                                           "l2=0.0001"])
    assert hp.values == {"model": "vgg19", "ema": False, "width": 0.25, "l2": 0.0001}
    # width applies to the VGGs only: with mini_xception it is held but inactive
    assert "width" not in fixed_hyperparameters(EFFICIENT, ["model=mini_xception",
                                                            "width=0.25"]).values
    with pytest.raises(UserError, match="'maybe' is not a bool"):
        fixed_hyperparameters(EFFICIENT, ["ema=maybe"])
    with pytest.raises(UserError, match="NAME one of model, width, optimizer"):
        fixed_hyperparameters(EFFICIENT, ["depth=4"])


def test_build_trains_with_the_ema_of_a_short_run():
    import numpy as np

    from tuning.hypermodel import FERHyperModel

    hm = FERHyperModel(EFFICIENT.base({"epochs": 2, "batch_size": 16}), 7,
                       train_labels=np.arange(160) % 7, space="efficient")
    hp = kt.HyperParameters()
    hp.Fixed("width", 0.25)
    model = hm.build(hp)
    assert model.net.name == "vgg13" and model.net.input_shape[1:] == (44, 44, 1)
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == pytest.approx(0.8)
    assert model.augment.erasing == 0.5


def test_a_fixed_conditional_value_holds_in_the_defaults_and_every_sample():
    """`--fix width=0.25`: width is declared under model in (vgg13, vgg19); an unconditional
    Fixed beside it was overwritten by the space's Choice (the first trial trained x0.75)."""
    from tuning.best import default_values
    from tuning.search import defaults_first

    fixed = fixed_hyperparameters(EFFICIENT, ["width=0.25"])
    declared = fixed.copy()
    EFFICIENT.declare(declared)  # what KerasTuner's tuner does with the hypermodel
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_macro_f1", "max"),
                                           max_trials=50, hyperparameters=fixed, seed=1)
    oracle.update_space(declared)
    defaults_first(oracle)
    first = oracle._random_values()
    assert first == default_values(oracle) and (first["model"], first["width"]) == ("vgg13", 0.25)
    oracle._tried_so_far.add("a trial")
    samples = [oracle._random_values() for _ in range(30)]
    vgg = [s for s in samples if s["model"] in ("vgg13", "vgg19")]
    assert vgg and all(s["width"] == 0.25 for s in vgg)
    assert all("width" not in s for s in samples if s["model"] == "mini_xception")
    # the parent is fixed as well, given after its child: the child still under its condition
    both = fixed_hyperparameters(EFFICIENT, ["width=0.25", "model=vgg19"])
    assert both.values == {"model": "vgg19", "width": 0.25}
