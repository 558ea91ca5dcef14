"""``python -m tuning --devices``: every trial trains data-parallel (here on 2 virtual CPU
devices of JAX, in a subprocess: they must exist before JAX starts)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keras_fer.data import FERData, save_npz
from keras_fer.errors import UserError
from tuning.cli import parse_args
from tuning.search import base_config
from tuning.spaces import get_space

REPO = Path(__file__).resolve().parents[2]


def test_devices_reach_the_base_config_of_every_trial():
    space = get_space("blockcnn")
    assert base_config(parse_args(["--devices", "all"]), space).devices == "all"
    assert base_config(parse_args(["--devices", "2"]), space).devices == 2
    assert base_config(parse_args([]), space).devices == 1
    with pytest.raises(UserError, match="--devices: devices must be a number >= 1"):
        parse_args(["--devices", "0"])


def test_a_search_on_two_devices(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 7
    images = rng.integers(0, 256, (40, 48, 48), dtype=np.uint8)
    save_npz(FERData(images, labels, ["Training"] * 28 + ["PublicTest"] * 11 + ["PrivateTest"]),
             tmp_path / "data" / "fer2013.npz")
    base = tmp_path / "base.json"
    base.write_text('{"batch_size": 16, "tensorboard": false, "verbose": 0}')
    argv = ["--data", str(tmp_path / "data"), "--config", str(base), "--tuner", "random",
            "--epochs", "1", "--max-trials", "1", "--dir", str(tmp_path / "search"),
            "--space", "blockcnn", "--time-budget", "none",
            "--fix", "depth=4", "--fix", "width=16", "--fix", "augment=none", "--no-retrain",
            "--devices", "2"]
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count=2",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                          if p))
    proc = subprocess.run([sys.executable, "-m", "tuning", *argv], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 28 training images on 2 devices; 11 validation images (padded to 12 with weight 0)
    assert ("28 training / 11 validation images (PublicTest), data-parallel over 2 devices "
            "(keras.distribution.DataParallel)") in proc.stdout
    trials = pd.read_csv(tmp_path / "search" / "blockcnn_random" / "trials.csv")
    assert list(trials["status"]) == ["COMPLETED"] and 0.0 <= trials["score"][0] <= 1.0
