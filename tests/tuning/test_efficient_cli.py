"""``python -m tuning --space efficient --max-trials 2 --epochs 1 --limit 140``: the command as a
user types it, with its first line, ETA lines, HParams log and retrained best."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def _hparams_tags(folder):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    tags = set()
    for path in folder.rglob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                tags.add((value.metadata.plugin_data.plugin_name, value.tag))
    return tags


def test_efficient_search_from_the_command_line(tune_env, tmp_path):
    from keras_fer.devices import accelerator_name

    data, _ = tune_env
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"batch_size": 16, "verbose": 2}))  # TensorBoard on
    argv = [sys.executable, "-m", "tuning", "--space", "efficient", "--max-trials", "2",
            "--epochs", "1", "--limit", "140", "--data", str(data), "--config", str(base),
            "--dir", str(tmp_path / "search")]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    if accelerator_name() is None:
        assert lines[0].startswith("time budget 45 min (the default without a GPU): about 1 trial(s)")
        assert lines[0].endswith("for more time: --time-budget 2h (make tune BUDGET=2h), or none "
                                 "for no limit")
    assert any(line.startswith("trial 0: epoch 1/1, ") and "steps/s, trial ETA 0:00:00; search ETA"
               in line for line in lines), proc.stdout
    project = tmp_path / "search" / "efficient_hyperband"
    table = pd.read_csv(project / "trials.csv")  # Hyperband with 1 epoch makes 1 trial
    assert table["status"].tolist() == ["COMPLETED"] and table["epochs"].tolist() == [1]
    assert {"model", "optimizer", "mix", "ema", "label_smoothing", "l2"} <= set(table.columns)
    config = json.loads((project / "best_trial_0" / "config.json").read_text())
    assert config["model"] in ("vgg13", "vgg19", "mini_xception") and config["limit"] is None
    report = json.loads((project / "best_trial_0" / "eval" / "report.json").read_text())
    assert set(report["splits"]) == {"PublicTest", "PrivateTest"}
    assert not (project / "best_trial_0" / "export").exists()  # no release unless asked
    # KerasTuner's HParams: the trial's hyperparameters and its TensorBoard scalars
    tags = _hparams_tags(project / "tensorboard" / "0")
    assert ("hparams", "_hparams_/session_start_info") in tags
    assert any(plugin == "scalars" or tag.startswith("epoch_") for plugin, tag in tags), tags
