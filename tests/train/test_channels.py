"""``init_layers`` "channels": a network started from a run of the same chain at another width,
pruned (the channels of largest |gamma| kept) or widened (Net2WiderNet, the function kept)."""
import keras
import numpy as np
import pytest

from keras_fer.errors import UserError
from keras_fer.models import create_model
from keras_fer.train.channels import choose_channels, transfer_channels


def trained_like(model, seed=0):
    """``model`` with random weights everywhere, batch-norm statistics included, as a trained
    run has (a fresh network's gammas are all 1 and would rank nothing)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = weights
            weights = [rng.uniform(0.2, 2.0, gamma.shape), rng.normal(0, 0.3, beta.shape),
                       rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2.0, var.shape)]
        elif weights:  # kernels scaled by their fan-in, so that activations stay near 1
            weights = [rng.normal(0, 1 / np.sqrt(np.prod(w.shape[:-1]) if w.ndim > 1 else 10),
                                  w.shape) for w in weights]
        layer.set_weights([w.astype("float32") for w in weights])
    return model


def faces(n=6, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (n, 44, 44, 1)).astype("float32")


def test_a_wider_network_computes_the_same_function():
    source = trained_like(create_model("vgg13", width=0.25))
    wider = create_model("vgg13", width=0.375)
    said = transfer_channels(wider, source, seed=3)
    x = faces()
    np.testing.assert_allclose(wider.predict(x, verbose=0), source.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)
    assert "; 0 layers narrowed" in said and "10 widened" in said
    # the copies of a channel read different shares of its outgoing weights, so they learn apart
    conv2 = wider.get_layer("vgg_conv2").get_weights()[0]  # reads vgg_conv1's 24 = 16 + 8 channels
    source_conv2 = source.get_layer("vgg_conv2").get_weights()[0]
    copied = wider.get_layer("vgg_conv1").get_weights()[0][..., 16:]
    first = source.get_layer("vgg_conv1").get_weights()[0]
    for j in range(8):
        k = next(i for i in range(16) if np.array_equal(first[..., i], copied[..., j]))
        both = conv2[:, :, k, :16] + conv2[:, :, 16 + j, :16]
        others = [c for c in range(16, 24) if c != 16 + j and
                  np.array_equal(copied[..., c - 16], first[..., k])]
        total = both + sum(conv2[:, :, c, :16] for c in others)
        np.testing.assert_allclose(total, source_conv2[:, :, k, :], rtol=1e-5, atol=1e-6)
        assert not np.allclose(conv2[:, :, k, :16], conv2[:, :, 16 + j, :16])


def test_a_narrower_network_keeps_the_channels_of_largest_gamma():
    source = trained_like(create_model("vgg13", width=0.5))
    narrow = create_model("vgg13", width=0.375)
    said = transfer_channels(narrow, source)
    assert "; 10 layers narrowed" in said and " 0 widened" in said
    # a NumPy reference for the first two convolutions and the classifier
    gamma1 = source.get_layer("vgg_bn1").get_weights()[0]
    keep1 = np.sort(np.argsort(-np.abs(gamma1))[:24])
    gamma2 = source.get_layer("vgg_bn2").get_weights()[0]
    keep2 = np.sort(np.argsort(-np.abs(gamma2))[:24])
    kernel1, bias1 = source.get_layer("vgg_conv1").get_weights()
    np.testing.assert_array_equal(narrow.get_layer("vgg_conv1").get_weights()[0], kernel1[..., keep1])
    np.testing.assert_array_equal(narrow.get_layer("vgg_conv1").get_weights()[1], bias1[keep1])
    for mine, theirs in zip(narrow.get_layer("vgg_bn1").get_weights(),
                            source.get_layer("vgg_bn1").get_weights()):
        np.testing.assert_array_equal(mine, theirs[keep1])
    kernel2 = source.get_layer("vgg_conv2").get_weights()[0]
    np.testing.assert_array_equal(narrow.get_layer("vgg_conv2").get_weights()[0],
                                  kernel2[:, :, keep1][..., keep2])
    gamma_last = source.get_layer("vgg_bn10").get_weights()[0]
    keep_last = np.sort(np.argsort(-np.abs(gamma_last))[:192])
    dense, dense_bias = source.get_layer("predictions").get_weights()
    np.testing.assert_array_equal(narrow.get_layer("predictions").get_weights()[0], dense[keep_last])
    np.testing.assert_array_equal(narrow.get_layer("predictions").get_weights()[1], dense_bias)


def test_the_same_width_is_a_plain_copy():
    source = trained_like(create_model("vgg13", width=0.25))
    same = create_model("vgg13", width=0.25)
    transfer_channels(same, source)
    for mine, theirs in zip(same.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_shares_of_copies_sum_to_one_and_pruning_keeps_order():
    rng = np.random.default_rng(0)
    sources, shares = choose_channels(np.ones(4), 10, rng)
    assert list(sources[:4]) == [0, 1, 2, 3] and len(sources) == 10
    np.testing.assert_allclose(np.bincount(sources, weights=shares), np.ones(4))
    assert np.all(shares > 0)
    sources, shares = choose_channels(np.array([0.1, -3.0, 0.5, 2.0, -0.2]), 3, rng)
    assert list(sources) == [1, 2, 3] and list(shares) == [1, 1, 1]


def test_another_chain_or_a_flatten_between_is_a_user_error():
    source = trained_like(create_model("vgg13", width=0.25))
    with pytest.raises(UserError, match=r"^runs/x: init_layers channels needs a run of the same "
                                        r"chain of layers at another width: this model has 33 "):
        transfer_channels(create_model("vgg19", width=0.25), source, origin="runs/x")
    inputs = keras.Input((8, 8, 1))
    small = keras.layers.Conv2D(4, 3, name="c")(inputs)
    flat = keras.Model(inputs, keras.layers.Dense(3, name="d")(keras.layers.Flatten()(small)))
    small = keras.layers.Conv2D(6, 3, name="c")(inputs)
    flat6 = keras.Model(inputs, keras.layers.Dense(3, name="d")(keras.layers.Flatten()(small)))
    with pytest.raises(UserError, match=r"^runs/x: init_layers channels: d reads 144 inputs "
                                        r"where 4 channels come"):
        transfer_channels(flat6, flat, origin="runs/x")
