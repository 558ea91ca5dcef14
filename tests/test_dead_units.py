"""scripts/dead_units.py, the diagnostic behind the ablation's batch-norm finding: on real
FER2013 images, the batch-norm CNNs feed their head a vector hundreds of times larger (|x|^2)
than the baseline does, which is why one SGD step at lr 0.01 moves their head units so far."""
import keras
import numpy as np


def test_batch_norm_head_inputs_are_hundreds_of_times_larger(fer_small, load_script):
    from keras_fer.models import build

    du = load_script("dead_units")
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


def test_trained_dead_counts_a_saved_model_like_numpy(fer_small, tmp_path, load_script):
    from keras_fer.models import build

    du = load_script("dead_units")
    keras.utils.set_random_seed(1)
    net = build("batchnorm", num_classes=7)
    net.save(tmp_path / "model.keras")
    images = fer_small.images[:100, ..., None].astype("float32")
    out = keras.Model(net.input, net.get_layer("features").output).predict(images, verbose=0)
    labels = fer_small.labels[:100]
    used = net.predict(images, verbose=0).argmax(axis=1)
    # batch statistics, independently: the same weights without dropout, in training mode
    no_dropout = build("batchnorm", num_classes=7, head={"pool_grid": 5, "dense": [64], "dropout": 0.0})
    no_dropout.set_weights(net.get_weights())
    batch = keras.ops.convert_to_numpy(no_dropout(images, training=True)).argmax(axis=1)
    assert not np.array_equal(used, batch)  # moving statistics at init (0, 1) are not the batch's
    got = du.trained_dead(tmp_path, images, labels)
    assert got == {"run": str(tmp_path), "dead": int((out.max(axis=0) <= 0).sum()), "units": 64,
                   "accuracy": round(float(np.mean(used == labels)), 4),
                   "accuracy_batch_stats": round(float(np.mean(batch == labels)), 4)}


def test_sample_is_seeded_random_and_keeps_labels_with_images(load_script):
    """The splits are stored by class, so the first 1,000 PublicTest images are three classes;
    the script samples instead."""
    du = load_script("dead_units")
    labels = np.repeat(np.arange(7), 100)  # sorted by class, as the splits are
    images = (labels[:, None, None] * np.ones((1, 48, 48))).astype("uint8")
    x, y = du.sample(images, 140, 0, labels)
    assert x.shape == (140, 48, 48, 1) and x.dtype == np.float32
    assert np.array_equal(x[:, 0, 0, 0], y)  # each image still carries its own label
    assert set(y) == set(range(7))  # the first 140 would be classes 0 and 1 only
    assert np.array_equal(du.sample(images, 140, 0), x) and not np.array_equal(du.sample(images, 140, 1), x)
