"""scripts/dead_units.py, the diagnostic behind the ablation's batch-norm finding: on real
FER2013 images, the batch-norm CNNs feed their head a vector hundreds of times larger (|x|^2)
than the baseline does, which is why one SGD step at lr 0.01 moves their head units so far."""
import importlib.util
from pathlib import Path

import keras
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("dead_units", REPO / "scripts" / "dead_units.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batch_norm_head_inputs_are_hundreds_of_times_larger(fer_small):
    from keras_fer.models import build

    du = _script()
    images = fer_small.images[:200, ..., None].astype("float32")
    norms, probes = {}, {}
    for name in ("baseline", "batchnorm", "final"):
        keras.utils.set_random_seed(0)
        probes[name] = du.head_probe(build(name, num_classes=7))
        norms[name] = du.head_input_sq_norm(probes[name], images)
    assert norms["batchnorm"] > 100 * norms["baseline"]
    assert norms["final"] > norms["batchnorm"]
    # dead units: a NumPy count over the probe's own training-mode outputs
    _, out = du.run_probe(probes["batchnorm"], images)
    assert out.shape == (200, 64)
    assert du.dead_count(probes["batchnorm"], images) == int((out.max(axis=0) <= 0).sum())


def test_trained_dead_counts_a_saved_model_like_numpy(fer_small, tmp_path):
    from keras_fer.models import build

    du = _script()
    keras.utils.set_random_seed(1)
    net = build("batchnorm", num_classes=7)
    net.save(tmp_path / "model.keras")
    images = fer_small.images[:100, ..., None].astype("float32")
    out = keras.Model(net.input, net.get_layer("features").output).predict(images, verbose=0)
    got = du.trained_dead(tmp_path, images)
    assert got == {"run": str(tmp_path), "dead": int((out.max(axis=0) <= 0).sum()), "units": 64}
