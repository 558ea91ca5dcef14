import dataclasses
import json

import pytest

from keras_fer.config import TrainConfig, load_config
from keras_fer.errors import UserError, cli_main


def test_round_trip_through_json(tmp_path):
    cfg = TrainConfig(model="vgg19", epochs=3, augment={"flip": True, "crop": 44},
                      optimizer={"name": "adam", "learning_rate": 1e-3})
    path = tmp_path / "run.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert load_config(path) == cfg


def test_every_field_has_a_default_and_survives_to_dict():
    cfg = TrainConfig()
    assert set(cfg.to_dict()) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad, word", [
    ({"epochz": 3}, "epochz"),
    ({"epochs": "ten"}, "epochs"),
    ({"epochs": 0}, "epochs"),
    ({"val": "PrivateTest"}, "PrivateTest"),
    ({"monitor": "accuracy"}, "monitor"),
    ({"optimizer": {"learning_rate": 0.1}}, "optimizer"),
    ({"limit": 3}, "limit"),
    ({"mixed_precision": 1}, "mixed_precision"),
    ({"data": 5}, "run.json: data must be str or null, got 5"),  # a `str | None` field
    ({"classes": "raf"}, "run.json: classes 'raf': not a preset"),
    ({"classes": "1=surprise,2=smug"}, "run.json: classes: 'smug'"),
])
def test_bad_settings_name_the_key(bad, word):
    with pytest.raises(UserError, match=word):
        TrainConfig.from_dict(bad, source="run.json")


def test_int_accepted_for_float_and_replace_checks():
    cfg = TrainConfig.from_dict({"val_fraction": 0.25})
    assert cfg.replace(epochs=5).epochs == 5
    with pytest.raises(UserError, match="batch_size"):
        cfg.replace(batch_size=0)


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"model": "baseline",\n "epochs": }')
    with pytest.raises(UserError, match=r"broken.json: invalid JSON at line 2"):
        load_config(path)


def test_cli_main_turns_user_error_into_exit_2(capsys):
    @cli_main
    def main(argv=None):
        raise UserError("data/x.csv: row 3 has 2303 pixels, expected 2304")

    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == "error: data/x.csv: row 3 has 2303 pixels, expected 2304\n"


@pytest.mark.parametrize("bad, where", [
    ({"optimizer": {"name": "sgd", "learning_rate": float("inf")}}, "optimizer.learning_rate"),
    ({"optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": float("nan")}},
     "optimizer.momentum"),
    ({"schedule": {"name": "step", "factor": float("-inf")}}, "schedule.factor"),
    ({"loss": {"name": "crossentropy", "class_weights": [1.0, float("nan")]}}, r"loss.class_weights\[1\]"),
    ({"augment": {"affine": {"rotation": float("inf")}}}, "augment.affine.rotation"),
    ({"val_fraction": float("nan")}, "val_fraction"),
])
def test_non_finite_numbers_are_refused_wherever_they_are(bad, where):
    with pytest.raises(UserError, match=f"run.json: {where} must be a finite number"):
        TrainConfig.from_dict(bad, source="run.json")


def test_nan_in_a_json_file_is_refused(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"optimizer": {"name": "adam", "learning_rate": NaN}}')
    with pytest.raises(UserError, match="optimizer.learning_rate must be a finite number, got nan"):
        load_config(path)


@pytest.mark.parametrize("bad, value", [
    ({"monitor": "val_acc"}, "val_acc"),
    ({"schedule": {"name": "reduce_on_plateau", "monitor": "val_f1"}}, "val_f1"),
])
def test_monitor_is_checked_before_any_training(bad, value):
    message = f"one of val_loss, val_accuracy, val_macro_f1, val_average_accuracy, got '{value}'"
    with pytest.raises(UserError, match=message):
        TrainConfig.from_dict(bad, source="run.json")


def test_cli_main_error_is_one_line_without_colour_codes(capsys):
    @cli_main
    def main(argv=None):
        raise UserError("\x1b[31mdata/x.csv\x1b[0m: row 3\nis bad")

    assert main([]) == 2
    assert capsys.readouterr().err == "error: data/x.csv: row 3 is bad\n"


def test_cli_main_makes_plain_argparse_errors_one_line(capsys):
    import argparse

    @cli_main
    def main(argv=None):
        parser = argparse.ArgumentParser(prog="tool")
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("run").add_argument("--epochs", type=int)
        parser.parse_args(argv)

    assert main(["run", "--bogus"]) == 2
    assert capsys.readouterr().err == "error: unrecognized arguments: --bogus\n"
    assert main(["run", "--epochs", "x"]) == 2
    assert capsys.readouterr().err == "error: argument --epochs: invalid int value: 'x'\n"
    # outside a CLI argparse is left as it is
    with pytest.raises(SystemExit):
        argparse.ArgumentParser(prog="tool").parse_args(["--bogus"])
