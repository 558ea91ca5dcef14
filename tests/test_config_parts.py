"""keras_fer/config_parts.py: the nested parts of a TrainConfig are typed, checked once when the
config is read (a bad key is a one-line error before any model is built) and written back as
they were read."""
import inspect
import json
from pathlib import Path

import pytest

from keras_fer.config import TrainConfig, load_config
from keras_fer.config_parts import AUGMENT_KEYS, OPTIMIZER_ARGS, OptimizerConfig, ScheduleConfig
from keras_fer.errors import UserError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bad, message", [
    ({"optimizer": {"name": "sgd", "momentun": 0.9}},
     "run.json: optimizer sgd: unknown setting 'momentun' (known: clipnorm"),
    ({"optimizer": {"name": "adam", "momentum": 0.9}}, "optimizer adam: unknown setting 'momentum'"),
    ({"optimizer": {"name": "lion"}}, "run.json: optimizer: unknown name 'lion' (known: sgd, adam"),
    ({"optimizer": {"name": "sgd", "nesterov": 1}}, "optimizer: nesterov must be true or false, got 1"),
    ({"schedule": {"name": "cosine", "warmup": 2}},
     "run.json: schedule: unknown setting 'warmup' (known: name, warmup_epochs, alpha)"),
    ({"schedule": {"name": "step", "every": 0}}, "schedule: every must be an integer >= 1, got 0"),
    ({"loss": {"name": "crossentropy", "smoothing": 0.1}}, "run.json: loss: unknown setting 'smoothing'"),
    ({"loss": {"name": "crossentropy", "label_smoothing": 1.5}},
     "loss: label_smoothing must be a number in [0, 1), got 1.5"),
    ({"augment": {"flipp": True}}, "run.json: augment: unknown augmentation 'flipp'"),
    ({"distill": {"teacher": "runs/t", "alpha": 2}}, "distill: alpha must be a number in (0, 1], got 2"),
])
def test_a_bad_nested_key_or_value_is_refused_when_the_config_is_read(bad, message):
    with pytest.raises(UserError) as e:
        TrainConfig.from_dict(bad, source="run.json")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_bad_nested_key_fails_the_train_command_before_any_model_is_built(tmp_path, capsys,
                                                                           monkeypatch):
    import keras_fer.models

    monkeypatch.setattr(keras_fer.models, "build", lambda *a, **k: pytest.fail("a model was built"))
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schedule": {"name": "cosine", "warmup_epoch": 2}}))
    from keras_fer.train.cli import main

    assert main(["--config", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"error: {path}: schedule: unknown setting 'warmup_epoch' "
                                       "(known: name, warmup_epochs, alpha)\n")
    assert not (tmp_path / "out").exists()


def test_the_recipes_load_unchanged_and_are_written_back_as_they_were():
    defaults = TrainConfig().to_dict()
    for path in sorted((REPO / "recipes").glob("*.json")):
        cfg = load_config(path)
        assert cfg.to_dict() == {**defaults, **json.loads(path.read_text())}, path.name
        assert TrainConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_the_parts_are_typed_and_read_like_their_json_objects():
    cfg = TrainConfig.from_dict({"optimizer": {"name": "adam", "lr": 0.002, "beta_1": 0.8},
                                 "schedule": {"name": "cosine", "warmup_epochs": 2}})
    assert isinstance(cfg.optimizer, OptimizerConfig) and cfg.optimizer.learning_rate == 0.002
    assert dict(cfg.optimizer) == {"name": "adam", "lr": 0.002, "beta_1": 0.8}
    assert cfg.optimizer == {"name": "adam", "lr": 0.002, "beta_1": 0.8}
    assert cfg.optimizer.get("momentum") is None and {**cfg.optimizer}["beta_1"] == 0.8
    assert isinstance(cfg.schedule, ScheduleConfig) and cfg.schedule.warmup_epochs == 2
    assert cfg.schedule.settings() == {"warmup_epochs": 2, "alpha": 0.0}
    assert not cfg.augment and not cfg.distill  # {}: off
    assert cfg.distill_settings() == (None, 0.5, 4.0)
    assert TrainConfig(optimizer={"name": "sgd"}).optimizer.learning_rate == 0.01


def test_the_optimizer_keys_are_the_keras_optimizers_arguments():
    from keras_fer.train.optimizers import OPTIMIZERS

    assert set(OPTIMIZER_ARGS) == set(OPTIMIZERS)
    for name, cls in OPTIMIZERS.items():
        assert set(OPTIMIZER_ARGS[name]) == set(inspect.signature(cls).parameters) - {"kwargs", "name"}


def test_the_augment_keys_are_the_augment_layer_s():
    from keras_fer.augment import Augment

    assert AUGMENT_KEYS == Augment.config_keys()
