"""The shipped experiment files: every run of every study builds its model and its training
step (construction only: the settings are valid together), and one study goes through the whole
runner in a `--limit` smoke run (1 epoch on a tiny real subset); tests/experiments/test_run.py
covers the runner's reuse, copying and tables.

Studies with k-fold validation run 2 folds here (`--set folds=2`): 5 folds need 5 images of
every class in every fold and five times the compile time, and test nothing more.
"""
import json
from pathlib import Path

import pandas as pd
import pytest

from keras_fer.experiments.cli import main

REPO = Path(__file__).resolve().parents[2]
FILES = sorted((REPO / "experiments").glob("*.json"))


@pytest.fixture(scope="module")
def small_data(fer_small, tmp_path_factory):
    from keras_fer.data import save_npz

    out = tmp_path_factory.mktemp("shipped") / "data"
    save_npz(fer_small, out / "fer2013.npz")
    return out


def test_the_five_studies_and_the_follow_ups_are_shipped():
    assert [f.stem for f in FILES] == ["batchnorm_head", "batchnorm_lr", "cnn_comparison",
                                       "cpu_budget", "dacl", "dacl_48", "optimizer_lr_grid",
                                       "prelu_resnet", "small_cnn_ablation"]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_run_builds_its_model_and_training_step(path):
    import keras

    from keras_fer.experiments.spec import load_experiment
    from keras_fer.train import build_net, build_training_model

    seen = set()
    for run in load_experiment(path).runs:
        cfg = run.config
        key = json.dumps({k: v for k, v in cfg.to_dict().items() if k != "seed"}, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        keras.backend.clear_session()
        net = build_net(cfg, 7)
        assert net.output_shape == (None, 7), run.name
        build_training_model(net, cfg, train_labels=[0, 1, 2, 3, 4, 5, 6])


# the features of the CPU recipes: its reference run and the one with all of them
SMOKE, SMOKE_RUNS = REPO / "experiments" / "cpu_budget.json", ["plain", "all"]


@pytest.mark.parametrize("path", [SMOKE], ids=[SMOKE.stem])
def test_limit_smoke_run(path, small_data, tmp_path):
    spec = json.loads(path.read_text())
    argv = ["run", str(path), "--limit", "14", "--epochs", "1", "--data", str(small_data),
            "--out", str(tmp_path / "out"), "--repeats", "1", "--runs", ",".join(SMOKE_RUNS)]
    if spec["base"].get("folds"):
        argv += ["--set", "folds=2"]
    assert main(argv) == 0
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert list(table["run"]) == SMOKE_RUNS
    left_out = json.loads((tmp_path / "out" / "results.json").read_text())["left_out"]
    assert left_out == [r["name"] for r in spec["runs"] if r["name"] not in SMOKE_RUNS]
    assert table["val_accuracy_mean"].between(0, 1).all()
    # PrivateTest is reported for exactly one configuration: the one chosen on validation
    assert table["private_accuracy_mean"].notna().sum() == 1
    assert (tmp_path / "out" / "curves.png").is_file()
