"""The training command line: --auto's recipe with flags over it, a numbered folder layout with
its class coding, and a user's mistakes as one error line with exit code 2."""
import json
import subprocess
import sys

import numpy as np

from keras_fer import rundir
from tests.train.conftest import read_history


def test_cli_auto_without_gpu_uses_cpu_recipe_and_flags_override(prepared, tiny_model_file,
                                                                  tmp_path, capsys):
    from keras_fer.train.cli import main

    out = tmp_path / "cli_run"
    code = main(["--auto", "--data", str(prepared), "--model", tiny_model_file, "--epochs", "1",
                 "--limit", "70", "--out", str(out), "--no-tensorboard", "--verbose", "0",
                 "--lr", "0.002"])
    assert code == 0
    assert ("no accelerator found: training recipes/cpu.json (vgg13, at most 30 epochs within a "
            "14m budget, batch 128") in capsys.readouterr().out
    cfg = rundir.read_config(out)
    cpu = json.loads((rundir.Path(__file__).parents[2] / "recipes" / "cpu.json").read_text())
    assert cfg.optimizer == {**cpu["optimizer"], "learning_rate": 0.002}
    assert cfg.augment == cpu["augment"] and cfg.epochs == 1 and cfg.limit == 70
    assert cfg.time_budget == cpu["time_budget"] == "14m"
    assert len(read_history(out)) == 1


def test_cli_numbered_layout_with_a_coding_trains_contempt_as_an_eighth_class(
        tiny_model_file, tmp_path, capsys):
    from PIL import Image

    from keras_fer.data import CLASS_NAMES
    from keras_fer.train.cli import main

    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("test", 1)):
        for code in range(8):  # AffectNet's coding: 0 neutral ... 7 contempt
            (tmp_path / "affectnet" / split / str(code)).mkdir(parents=True)
            for k in range(n):
                Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(
                    tmp_path / "affectnet" / split / str(code) / f"{k}.png")
    argv = ["--data", str(tmp_path / "affectnet"), "--model", tiny_model_file, "--epochs", "1",
            "--out", str(tmp_path / "run"), "--no-tensorboard", "--verbose", "0"]
    assert main(argv) == 2
    assert "affectnet" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert main(argv + ["--classes", "affectnet"]) == 0
    assert rundir.read_config(tmp_path / "run").classes == "affectnet"
    assert rundir.read_meta(tmp_path / "run")["classes"] == list(CLASS_NAMES)
    assert rundir.load_model(tmp_path / "run").output_shape[-1] == 8


def test_cli_user_mistakes_exit_2(tmp_path, capsys):
    from keras_fer.train.cli import main

    assert main(["--config", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: file not found" in capsys.readouterr().err
    assert main(["--optimizer", "adadelta", "--data", str(tmp_path)]) == 2
    (tmp_path / "bad.json").write_text('{"epochs": 3, "lerning_rate": 1}')
    assert main(["--config", str(tmp_path / "bad.json")]) == 2
    assert "unknown setting 'lerning_rate'" in capsys.readouterr().err


def test_cli_init_from_a_missing_run_is_one_line_and_exit_2(prepared, tiny_model_file, tmp_path,
                                                           capsys):
    from keras_fer.train.cli import main

    code = main(["--data", str(prepared), "--model", tiny_model_file, "--limit", "70",
                 "--init-from", str(tmp_path / "nope"), "--out", str(tmp_path / "run"),
                 "--no-tensorboard", "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"error: {tmp_path / 'nope'}: no such run directory (train one with python -m "
        "keras_fer.train)"]


def test_cli_bad_option_subprocess_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "keras_fer.train", "--epochs", "many"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--epochs" in proc.stderr


def test_a_bad_init_layers_is_one_line_and_exit_2(tmp_path):
    # from the flag (argparse's choices) and from a config file (TrainConfig.validate); the
    # run directory asked for is never made
    config = tmp_path / "run.json"
    config.write_text('{"init_layers": "some"}')
    for argv, says in ((["--init-layers", "some"], "--init-layers: invalid choice: 'some'"),
                       (["--config", str(config)], "init_layers must be one of all, matching, channels, "
                                                   "got 'some'"),
                       (["--init-layers", "matching"], "init_layers matching takes layers from "
                                                       "init_from, which is not set")):
        proc = subprocess.run([sys.executable, "-m", "keras_fer.train", *argv,
                               "--out", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("error") or
                 "error:" in line]
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr
        assert not (tmp_path / "out").exists()


def test_init_layers_channels_from_another_chain_is_one_line_and_exit_2(prepared, tiny_run,
                                                                        tmp_path, capsys):
    from keras_fer.train.cli import main

    code = main(["--data", str(prepared), "--model", "vgg13", "--model-args", '{"width": 0.25}',
                 "--limit", "70", "--init-from", str(tiny_run), "--init-layers", "channels",
                 "--out", str(tmp_path / "run"), "--no-tensorboard", "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"error: {tiny_run}: init_layers channels needs a run of the same chain of layers at "
        "another width: this model has 21 layers with weights, it has 6 (or of other kinds)"]
    assert not (tmp_path / "run" / rundir.MODEL_FILE).exists()
