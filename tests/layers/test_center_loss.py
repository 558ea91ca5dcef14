import json
import zipfile

import keras
import numpy as np
import pytest
from keras import ops

from keras_fer.layers import SparseCenterLoss
from keras_fer.models import aux_loss_layers

RNG = np.random.default_rng(0)
M, D, K = 6, 5, 3


def _reference(x, a, y, centers, lam, alpha):
    """NumPy: lam * 1/(2m) sum a (x - c_y)^2 and the reference DACL center update."""
    diff = x - centers[y]
    loss = lam * np.sum(a * diff ** 2) / (2 * len(x))
    new = centers.copy()
    for k in range(len(centers)):
        mask = y == k
        new[k] -= alpha * np.sum(a[mask] * (centers[k] - x[mask]), axis=0) / (1 + mask.sum())
    return loss, new


def _batch():
    x = RNG.normal(size=(M, D)).astype("float32")
    a = RNG.uniform(size=(M, D)).astype("float32")
    y = np.array([0, 2, 2, 1, 0, 2])
    return x, a, y


@pytest.mark.backends
@pytest.mark.parametrize("mode", ["sparse", "classic"])
def test_loss_and_update_match_numpy(mode):
    layer = SparseCenterLoss(K, D, lam=0.01, alpha=0.5, mode=mode, seed=1)
    x, a, y = _batch()
    weights = a if mode == "sparse" else np.ones_like(a)
    centers = keras.ops.convert_to_numpy(layer.centers).copy()
    ref_loss, ref_centers = _reference(x, weights, y, centers, 0.01, 0.5)
    loss = layer.loss_and_update(x, a, y, training=False)
    np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.centers), centers)  # no update
    loss = layer.loss_and_update(x, a, ops.one_hot(y, K), training=True)  # one-hot labels too
    np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-5)
    new = keras.ops.convert_to_numpy(layer.centers)
    np.testing.assert_allclose(new, ref_centers, rtol=1e-5, atol=1e-6)
    before = np.sum((x - centers[y]) ** 2)
    assert np.sum((x - new[y]) ** 2) < before  # centers moved toward their features
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer([x, a])), x)  # pass-through


class CenterLossTrainer(keras.Model):
    """How a trainer uses the layer: the probe exposes its inputs, compute_loss adds its loss."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.aux = aux_loss_layers(net)[0]
        self.probe = keras.Model(net.input, [net.output, *self.aux.input])

    def call(self, x, training=False):
        return self.probe(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits, feats, att = y_pred
        ce = ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        return ce + self.aux.loss_and_update(feats, att, y, training=training)


@pytest.mark.backends
def test_centers_update_inside_compiled_train_step(tmp_path):
    inputs = keras.Input((4,))
    feats = keras.layers.Dense(D, name="features")(inputs)
    att = keras.layers.Dense(D, activation="sigmoid")(inputs)
    x = SparseCenterLoss(K, D, lam=1.0, alpha=0.5, seed=2, name="center_loss")([feats, att])
    net = keras.Model(inputs, keras.layers.Dense(K, name="predictions")(x))
    assert aux_loss_layers(net) == [net.get_layer("center_loss")]
    model = CenterLossTrainer(net)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # lr 0: only the centers move
    xb = RNG.normal(size=(8, 4)).astype("float32")
    yb = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    layer = net.get_layer("center_loss")
    c0 = keras.ops.convert_to_numpy(layer.centers).copy()
    f, a = [keras.ops.convert_to_numpy(t) for t in model.probe(xb)[1:]]
    _, expected = _reference(f, a, yb, c0, 1.0, 0.5)
    model.train_on_batch(xb, yb)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.centers), expected, rtol=1e-4, atol=1e-5)
    path = tmp_path / "net.keras"
    net.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.get_layer("center_loss").centers),
                                  keras.ops.convert_to_numpy(layer.centers))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(xb)), keras.ops.convert_to_numpy(net(xb)),
                               atol=1e-6)


def test_a_model_saved_when_the_layer_was_in_keras_fer_losses_still_loads(tmp_path):
    """A .keras file names the layer's module (it was keras_fer.losses.center_loss); its
    registered name, unchanged by the move, is what finds the class."""
    assert keras.saving.get_registered_name(SparseCenterLoss) == "keras_fer>SparseCenterLoss"
    inputs = keras.Input((4,))
    feats = keras.layers.Dense(D, name="features")(inputs)
    att = keras.layers.Dense(D, activation="sigmoid")(inputs)
    x = SparseCenterLoss(K, D, lam=0.1, seed=3, name="center_loss")([feats, att])
    net = keras.Model(inputs, keras.layers.Dense(K, name="predictions")(x))
    net.save(tmp_path / "new.keras")
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(tmp_path / "new.keras") as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                [layer] = [v for v in config["config"]["layers"] if v["name"] == "center_loss"]
                assert layer["module"] == "keras_fer.layers.center_loss"
                layer["module"] = "keras_fer.losses.center_loss"  # as files saved before the move
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    loaded = keras.saving.load_model(old)
    layer = loaded.get_layer("center_loss")
    assert type(layer) is SparseCenterLoss and layer.lam == 0.1
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.centers),
                                  ops.convert_to_numpy(net.get_layer("center_loss").centers))
    xb = RNG.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(xb)), ops.convert_to_numpy(net(xb)), atol=1e-6)
