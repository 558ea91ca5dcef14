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
