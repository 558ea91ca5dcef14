"""Data-parallel training (``devices``, ``keras_fer.distribute``) on 2 virtual CPU devices: JAX's
``--xla_force_host_platform_device_count=2`` and TensorFlow's 2 logical CPU devices, made in a
subprocess (``devices_worker.py``) before its backend starts. Marked ``backends``: `make test`
runs them on TensorFlow, then on JAX.

On 2 devices the run must be the run on 1 device (same global batch, seed and data): on JAX with
batch norm, flip + crop + mixup, EMA, the class-weighted loss and L2; on TensorFlow without batch
norm and augmentation, where each replica normalises its own share of the batch and draws its
own random numbers (the same training in distribution, not number for number). Tolerance: 1e-5
relative. The arithmetic is the same; only float32 sums split into per-device partial sums and
an all-reduce round differently in the last bits (measured: identical on JAX, 6e-8 on
TensorFlow), while a fault such as a loss not divided among the replicas (gradients twice as
large) or a replica normalising over half the batch moves the losses in the 2nd or 3rd digit.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_fer import rundir
from keras_fer.data import FERData, save_npz
from keras_fer.distribute import ENGINES, Plan
from keras_fer.errors import UserError
from tests.train.conftest import TINY

pytestmark = pytest.mark.backends
REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("devices_worker.py")
TOLERANCE = 1e-5
N_TRAIN, N_VAL = 64, 31  # 4 steps of 16 per epoch; an odd validation set is padded


def _config(model_file):
    config = {"model": str(model_file), "epochs": 2, "batch_size": 16, "seed": 3,
              "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
              "loss": {"name": "class_weighted", "l2": 1e-3}, "ema": 0.9,
              "tensorboard": False, "verbose": 0}
    if keras.backend.backend() == "jax":
        config["augment"] = {"flip": True, "crop": 44, "mix": "mixup"}
    return config


def _env(**extra):
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, KERAS_BACKEND=keras.backend.backend(), PYTHONPATH=path, **extra)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """64 Training, 31 PublicTest, 7 PrivateTest images whose brightness follows the label."""
    rng = np.random.default_rng(0)
    n = N_TRAIN + N_VAL + 7
    labels = np.arange(n) % 7
    images = (rng.integers(0, 120, (n, 48, 48)) + labels[:, None, None] * 20).astype(np.uint8)
    splits = ["Training"] * N_TRAIN + ["PublicTest"] * N_VAL + ["PrivateTest"] * 7
    folder = tmp_path_factory.mktemp("devices_data")
    save_npz(FERData(images, labels, splits), folder / "fer2013.npz")
    return folder


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    model = json.loads(json.dumps(TINY))
    if keras.backend.backend() == "jax":
        model["blocks"][0]["norm"] = "batch"
    path = tmp_path_factory.mktemp("devices_model") / "tiny.json"
    path.write_text(json.dumps(model))
    return path


@pytest.fixture(scope="module")
def runs(data_dir, model_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("devices_runs")
    proc = subprocess.run([sys.executable, str(WORKER), str(data_dir), str(out),
                           json.dumps(_config(model_file))], env=_env(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


def _history(run_dir):
    lines = (Path(run_dir) / "history.csv").read_text().split()
    keys = lines[0].split(",")
    return {k: [float(row.split(",")[i]) for row in lines[1:]] for i, k in enumerate(keys)}


def _weights(run_dir):
    return [keras.ops.convert_to_numpy(w) for w in rundir.load_model(run_dir).weights]


def test_two_devices_train_exactly_as_one(runs):
    one, two = runs["1"], runs["2"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    engine = ENGINES[keras.backend.backend()]
    assert rundir.read_meta(two["dir"])["distribution"] == {
        "kind": "data_parallel", "engine": engine, "devices": 2, "processes": 1}
    assert rundir.read_meta(one["dir"])["distribution"]["devices"] == 1
    assert len(one["losses"]) == len(two["losses"]) == 8  # 2 epochs of 4 steps
    assert np.ptp(one["losses"]) > 1e-2  # it trained
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=TOLERANCE)
    h1, h2 = _history(one["dir"]), _history(two["dir"])
    assert sorted(h1) == sorted(h2)
    for key in h1:  # validation too: 31 images, padded to 32 on 2 devices with weight 0
        np.testing.assert_allclose(h2[key], h1[key], rtol=TOLERANCE, err_msg=key)
    for a, b in zip(_weights(one["dir"]), _weights(two["dir"])):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_the_center_loss_and_its_centers_are_those_of_the_whole_batch(runs):
    one, two = runs["center_loss"]["1"], runs["center_loss"]["2"]
    assert np.ptp(one["losses"]) > 1e-3
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=TOLERANCE)
    np.testing.assert_allclose(two["centers"], one["centers"], rtol=1e-4, atol=1e-6)


def test_replicas_draw_augmentations_of_their_own(runs):
    draws = runs["replica_draws"]
    if keras.backend.backend() != "tensorflow":
        assert draws is None  # JAX draws once for the global batch: the 1-device test
        return
    first, second = np.asarray(draws)
    assert first.shape == (4,) and not np.allclose(first, second)


def test_a_two_device_run_killed_after_an_epoch_resumes(runs):
    whole, resumed = runs["whole"], runs["resumed"]
    assert resumed["killed_after"] == [2] and resumed["epochs"] == [2]
    assert resumed["replicas"] == 2
    assert not (Path(resumed["dir"]) / "ckpt").exists()
    h_whole, h_resumed = _history(whole["dir"]), _history(resumed["dir"])
    assert h_resumed["epoch"] == [1.0, 2.0, 3.0]
    for key in h_whole:
        np.testing.assert_allclose(h_resumed[key], h_whole[key], rtol=TOLERANCE, err_msg=key)
    for a, b in zip(_weights(whole["dir"]), _weights(resumed["dir"])):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_its_checkpoint_is_a_plain_model_for_evaluate_and_export(runs, data_dir, tmp_path):
    from keras_fer.evaluate import evaluate_run
    from keras_fer.export.cli import main as export_main

    run_dir = Path(runs["2"]["dir"])
    model = rundir.load_model(run_dir)
    assert model.output_shape == (None, 7)
    best = rundir.read_meta(run_dir)["best"]
    report = evaluate_run(run_dir, str(data_dir), splits=("PublicTest",), verbose=False,
                          out=tmp_path / "eval")["splits"]["PublicTest"]
    assert report["n"] == N_VAL
    for key in ("accuracy", "macro_f1", "average_accuracy"):  # what validation said, exactly
        assert report[key] == pytest.approx(best[f"val_{key}"], abs=1e-6), key
    argv = [str(run_dir), "--format", "savedmodel", "--data", str(data_dir),
            "--out", str(tmp_path / "export")]
    if keras.backend.backend() == "jax":  # TensorFlow is hidden in this process (conftest.py):
        proc = subprocess.run([sys.executable, "-m", "keras_fer.export", *argv], env=_env(),
                              capture_output=True, text=True, timeout=600)  # it re-runs under it
        assert proc.returncode == 0, proc.stderr[-2000:]
    else:
        assert export_main(argv) == 0
    parity = json.loads((tmp_path / "export" / "parity.json").read_text())
    assert parity["ok"] and parity["images"] == N_VAL and parity["savedmodel"]["ok"]


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_hosts_train_as_two_devices_of_one(runs, data_dir, model_file, tmp_path):
    """Two processes on localhost, 1 CPU device each, joined by keras.distribution.initialize()
    from the environment: the run is the 2-device run of one process."""
    if keras.backend.backend() != "jax":
        pytest.skip("several hosts: JAX only")
    cluster = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": f"localhost:{_free_port()}",
               "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}
    cmd = [sys.executable, str(WORKER), str(data_dir), str(tmp_path),
           json.dumps(_config(model_file))]
    procs = [subprocess.Popen(cmd, env=_env(**cluster, KERAS_DISTRIBUTION_PROCESS_ID=str(k)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    hosts = json.loads((tmp_path / "result.json").read_text())["hosts"]
    assert hosts["dir"] == str(tmp_path / "hosts") and hosts["replicas"] == 2
    assert rundir.read_meta(tmp_path / "hosts")["distribution"] == {
        "kind": "data_parallel", "engine": "keras.distribution.DataParallel", "devices": 2,
        "processes": 2}
    assert (tmp_path / "hosts.process1" / "history.csv").is_file()  # the other host's copy
    np.testing.assert_allclose(hosts["losses"], runs["whole"]["losses"], rtol=TOLERANCE)
    h_hosts, h_whole = _history(hosts["dir"]), _history(runs["whole"]["dir"])
    for key in h_whole:
        np.testing.assert_allclose(h_hosts[key], h_whole[key], rtol=TOLERANCE, err_msg=key)


def test_batches_split_evenly_and_padding_weighs_nothing():
    plan = Plan("data_parallel", devices=4)
    with pytest.raises(UserError, match="batch_size 30 does not split across 4 devices: use a "
                                        "multiple of 4"):
        plan.check_batch(30)
    x, y = np.arange(10) * 10, np.arange(10)
    tx, ty = plan.trim(x, y, seed=0)
    assert len(ty) == 8 and set(ty) <= set(y) and np.array_equal(tx, ty * 10)
    assert np.array_equal(plan.trim(x, y, seed=0)[1], ty)  # the same on every host
    vx, vy, weights, batch = plan.val_arrays(x, y)
    assert len(vy) == 12 and batch == 256 and np.array_equal(vy[10:], [0, 0])
    assert np.array_equal(weights[10:], [0, 0]) and weights[:10] == pytest.approx([1.2] * 10)
    host = Plan("data_parallel", devices=4, processes=2, process_id=1)
    assert host.process_batch(32) == 16
    assert np.array_equal(host.share(np.arange(8))[0], [1, 3, 5, 7])
    one = Plan()
    assert one.trim(x, y) == (x, y) and one.val_arrays(x, y)[2] is None


@pytest.mark.parametrize("value, message", [
    (0, "devices must be a number >= 1 or \"all\", got 0"),
    ("two", "devices must be a number >= 1 or \"all\", got 'two'"),
    (True, "devices must be a number, got True"),
])
def test_bad_devices_settings_are_user_errors(value, message):
    from keras_fer.config import TrainConfig

    with pytest.raises(UserError, match=message):
        TrainConfig.from_dict({"devices": value})


def test_a_cluster_named_by_halves_is_one_line_error(monkeypatch, capsys, tmp_path):
    from keras_fer.train.cli import main

    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "localhost:1234")
    monkeypatch.delenv("KERAS_DISTRIBUTION_NUM_PROCESSES", raising=False)
    monkeypatch.delenv("KERAS_DISTRIBUTION_PROCESS_ID", raising=False)
    assert main(["--model", "baseline", "--out", str(tmp_path / "run"), "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    if keras.backend.backend() == "jax":
        want = ("error: KERAS_DISTRIBUTION_JOB_ADDRESSES is set but "
                "KERAS_DISTRIBUTION_NUM_PROCESSES is not (several hosts need all of "
                "KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES, "
                "KERAS_DISTRIBUTION_PROCESS_ID)\n")
    else:
        want = ("error: KERAS_DISTRIBUTION_JOB_ADDRESSES is set: training on several hosts "
                "needs KERAS_BACKEND=jax (the backend here is tensorflow)\n")
    assert err == want and not (tmp_path / "run").exists()
