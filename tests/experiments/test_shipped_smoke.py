"""Every shipped experiment file passes its `--limit` smoke run (1 epoch on a tiny real subset).

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
    assert [f.stem for f in FILES] == ["batchnorm_head", "batchnorm_lr", "cnn_comparison", "dacl",
                                       "dacl_48", "optimizer_lr_grid", "prelu_resnet",
                                       "small_cnn_ablation"]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_limit_smoke_run(path, small_data, tmp_path):
    spec = json.loads(path.read_text())
    argv = ["run", str(path), "--limit", "14", "--epochs", "1", "--data", str(small_data),
            "--out", str(tmp_path / "out")]
    if spec["base"].get("folds"):
        argv += ["--set", "folds=2"]
    assert main(argv) == 0
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert list(table["run"]) == [r["name"] for r in spec["runs"]]
    assert table["val_accuracy_mean"].between(0, 1).all()
    # PrivateTest is reported for exactly one configuration: the one chosen on validation
    assert table["private_accuracy_mean"].notna().sum() == 1
    assert (tmp_path / "out" / "curves.png").is_file()
