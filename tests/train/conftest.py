"""Fixtures of the training tests: a tiny block-CNN definition and a base config."""
import csv
import json

import pytest

TINY = {"name": "tiny", "blocks": [{"filters": 8, "kernel_size": 3, "convs": 1, "pool": "max"},
                                   {"filters": 16, "kernel_size": 3, "convs": 1, "pool": "max"}],
        "head": {"pool_grid": 3, "dense": [32], "dropout": 0.0}}


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny.json"
    path.write_text(json.dumps(TINY))
    return str(path)


@pytest.fixture
def tiny_cfg(tiny_model_file, tmp_path):
    """A fast config: tiny CNN, Adam, no TensorBoard, quiet; ``out`` in tmp_path."""
    from keras_fer.config import TrainConfig

    return TrainConfig(model=tiny_model_file, epochs=2, batch_size=32, limit=70,
                       optimizer={"name": "adam", "learning_rate": 5e-3}, tensorboard=False,
                       verbose=0, out=str(tmp_path / "run"))


@pytest.fixture(scope="session")
def prepared(fer_small, tmp_path_factory):
    """fer_small as a prepared data folder (fer2013.npz) for the command line."""
    from keras_fer.data import save_npz

    folder = tmp_path_factory.mktemp("prepared")
    save_npz(fer_small, folder / "fer2013.npz")
    return folder


def read_history(run_dir):
    """history.csv's rows as dicts."""
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))
