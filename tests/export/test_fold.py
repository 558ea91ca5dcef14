"""Folding batch norm into the convolution before it, and the bfloat16 serving model: which pairs
fold, the folded weights against a NumPy reference, the same probabilities as the unfolded model,
names kept, the policies of a bfloat16 model."""
import keras
import numpy as np
import pytest

from keras_fer.export.fold import foldable_pairs, folded_weights, inference_model


def _randomize(model, seed=0):
    """Non-trivial weights and batch-norm statistics (variances positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, 0.3, w.shape)
        if "variance" in w.path:
            value = rng.uniform(0.2, 2.0, w.shape)
        elif "gamma" in w.path or "mean" in w.path:
            value = rng.uniform(0.5, 1.5, w.shape) * (1 if "gamma" in w.path else 0.3)
        w.assign(value.astype("float32"))


def _model():
    """Five conv/batch-norm situations, of which the first two fold."""
    L = keras.layers
    inputs = keras.Input((12, 12, 1), name="image")
    x = L.Conv2D(4, 3, padding="same", name="c1")(inputs)                # bias: folds
    x = L.BatchNormalization(name="b1")(x)
    x = L.ReLU()(x)
    x = L.Conv2D(5, 3, padding="same", use_bias=False, name="c2")(x)     # no bias: folds
    x = L.BatchNormalization(center=False, scale=False, name="b2")(x)
    y = L.Conv2D(5, 1, name="c3")(x)                                     # read twice: stays
    z = L.BatchNormalization(name="b3")(y)
    x = L.Add()([y, z])
    x = L.Conv2D(6, 3, activation="relu", name="c4")(x)                  # relu first: stays
    x = L.BatchNormalization(name="b4")(x)
    x = L.DepthwiseConv2D(3, name="d5")(x)                               # not Conv2D: stays
    x = L.BatchNormalization(name="b5")(x)
    x = L.GlobalAveragePooling2D(name="features")(x)
    model = keras.Model(inputs, L.Dense(3, name="predictions")(x))
    _randomize(model)
    return model


def test_only_a_linear_conv2d_read_by_its_batch_norm_alone_folds():
    model = _model()
    config = keras.saving.serialize_keras_object(model)["config"]
    assert foldable_pairs(config) == {"b1": "c1", "b2": "c2"}


def test_folded_weights_equal_the_numpy_reference():
    model = _model()
    conv, bn = model.get_layer("c1"), model.get_layer("b1")
    gamma, beta, mean, var = (np.asarray(w.numpy(), "float64") for w in bn.weights)
    s = gamma / np.sqrt(var + bn.epsilon)
    kernel, bias = folded_weights(conv, bn)
    np.testing.assert_allclose(kernel, np.asarray(conv.kernel.numpy()) * s, rtol=1e-6)
    np.testing.assert_allclose(bias, (np.asarray(conv.bias.numpy()) - mean) * s + beta,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.backends
def test_the_folded_model_gives_the_same_logits_with_two_batch_norms_fewer():
    model = _model()
    folded = inference_model(model)
    x = np.random.default_rng(1).uniform(0, 1, (8, 12, 12, 1)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(folded(x, training=False)),
                               keras.ops.convert_to_numpy(model(x, training=False)),
                               rtol=1e-4, atol=1e-5)
    kinds = {layer.name: type(layer).__name__ for layer in folded.layers}
    assert [layer.name for layer in folded.layers] == [layer.name for layer in model.layers]
    assert (kinds["b1"], kinds["b2"], kinds["b3"]) == ("Identity", "Identity",
                                                       "BatchNormalization")
    assert folded.get_layer("c2").use_bias and not model.get_layer("c2").use_bias
    # four batch-norm weights each for b1, two for b2 (no gamma, beta): 6 fewer, 1 bias more
    assert len(folded.weights) == len(model.weights) - 6 + 1
    assert model.get_layer("b1").weights  # the source model is left as it was


def test_nothing_to_fold_in_float32_is_the_model_itself():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    assert inference_model(model) is model


@pytest.mark.backends
def test_bfloat16_computes_every_layer_but_the_outputs_in_bfloat16():
    model = _model()
    served = inference_model(model, "bfloat16")
    policies = {layer.name: layer.dtype_policy.name for layer in served.layers}
    assert policies.pop("image") == "float32" and policies.pop("predictions") == "float32"
    assert set(policies.values()) == {"mixed_bfloat16"}
    assert all(w.dtype == "float32" for w in served.weights)  # weights stay float32
    x = np.random.default_rng(2).uniform(0, 1, (8, 12, 12, 1)).astype("float32")
    ref = keras.ops.convert_to_numpy(model(x, training=False))
    out = keras.ops.convert_to_numpy(served(x, training=False))
    assert out.dtype == np.float32
    assert 0 < np.abs(out - ref).max() < 0.05 * np.abs(ref).max()  # rounded, not wrong


def test_a_model_that_is_not_functional_stays_float32_and_refuses_bfloat16():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    assert inference_model(net) is net
    with pytest.raises(ValueError, match="functional"):
        inference_model(net, "bfloat16")
    with pytest.raises(ValueError, match="precision"):
        inference_model(net, "int4")


def test_an_ensembles_members_are_folded_and_computed_in_bfloat16_too():
    from keras_fer.ensemble.core import build_ensemble

    members = [_model(), _model()]
    _randomize(members[1], seed=5)
    ensemble = build_ensemble(members)
    x = np.random.default_rng(3).uniform(0, 1, (8, 12, 12, 1)).astype("float32")
    ref = keras.ops.convert_to_numpy(ensemble(x, training=False))
    folded = inference_model(ensemble)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(folded(x, training=False)), ref,
                               rtol=1e-4, atol=1e-6)
    inner = [layer for layer in folded.layers if isinstance(layer, keras.Model)]
    assert len(inner) == 2
    for member in inner:
        kinds = [type(layer).__name__ for layer in member.layers]
        assert kinds.count("Identity") == 2 and kinds.count("BatchNormalization") == 3
    served = inference_model(ensemble, "bfloat16")
    member = next(layer for layer in served.layers if isinstance(layer, keras.Model))
    assert member.get_layer("c1").dtype_policy.name == "mixed_bfloat16"
