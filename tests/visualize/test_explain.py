"""Saliency / Grad-CAM / activations on hand-built models whose answers are known."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # tf-keras-vis is TensorFlow-only
    pytest.skip("visualize runs on TensorFlow", allow_module_level=True)

from keras_fer.visualize import activations as act  # noqa: E402
from keras_fer.visualize import explain  # noqa: E402

BOX = (8, 16, 24, 32)  # rows 8:16, cols 24:32: the only region the masked model sees


class RegionMask(keras.layers.Layer):
    """Zeroes every pixel outside ``box`` (test-only: a model that looks at one region)."""

    def __init__(self, box, **kwargs):
        super().__init__(**kwargs)
        self.box = tuple(box)

    def call(self, x):
        r0, r1, c0, c1 = self.box
        mask = np.zeros((1, 48, 48, 1), np.float32)
        mask[:, r0:r1, c0:c1] = 1.0
        return x * keras.ops.convert_to_tensor(mask)

    def get_config(self):
        return {**super().get_config(), "box": self.box}


def _region_mass(maps, box, margin=0):
    r0, r1, c0, c1 = box
    inside = np.abs(maps[:, max(r0 - margin, 0):r1 + margin, max(c0 - margin, 0):c1 + margin])
    return inside.sum(axis=(1, 2)) / np.abs(maps).sum(axis=(1, 2))


@pytest.fixture(scope="module")
def masked_cnn():
    """A conv net (positive weights, zero biases) that only sees BOX."""
    keras.utils.set_random_seed(0)

    def pos():  # unseeded, so that a clone draws fresh weights
        return keras.initializers.RandomUniform(0.01, 0.1)

    inp = keras.Input((48, 48, 1))
    x = RegionMask(BOX)(inp)
    x = keras.layers.Rescaling(1 / 255.0)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=pos(),
                            name="conv1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", kernel_initializer=pos(),
                            name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    out = keras.layers.Dense(3, kernel_initializer=pos(), name="predictions")(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).uniform(20, 235, size=(3, 48, 48, 1)).astype(np.float32)


def test_saliency_of_linear_model_is_its_weights(faces):
    # logit c = sum(W[:, c] * pixels): the gradient is exactly W[:, c], with or without noise
    w = np.random.default_rng(1).normal(size=(48 * 48, 3)).astype(np.float32)
    inp = keras.Input((48, 48, 1))
    dense = keras.layers.Dense(3, use_bias=False, name="predictions")
    model = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    dense.set_weights([w])
    classes = [0, 2, 1]
    expected = np.stack([w[:, c].reshape(48, 48) for c in classes])
    vanilla = explain.saliency(model, faces, classes)
    assert vanilla.shape == (3, 48, 48)
    np.testing.assert_allclose(vanilla, expected, rtol=1e-5, atol=1e-6)
    smooth = explain.saliency(model, faces, classes, smooth_samples=3, batch_size=4)
    np.testing.assert_allclose(smooth, expected, rtol=1e-4, atol=1e-5)


def test_saliency_concentrated_in_the_region_the_model_sees(masked_cnn, faces):
    for samples in (0, 4):
        maps = explain.saliency(masked_cnn, faces, [0, 1, 2], smooth_samples=samples)
        assert maps.shape == (3, 48, 48)
        assert np.abs(maps).sum(axis=(1, 2)).min() > 0
        assert (_region_mass(maps, BOX) > 0.99).all()


def test_smoothgrad_is_reproducible(masked_cnn, faces):
    a = explain.saliency(masked_cnn, faces, [0, 0, 0], smooth_samples=3, seed=5)
    b = explain.saliency(masked_cnn, faces, [0, 0, 0], smooth_samples=3, seed=5)
    c = explain.saliency(masked_cnn, faces, [0, 0, 0], smooth_samples=3, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("plus_plus", [False, True])
def test_gradcam_peaks_in_the_region(masked_cnn, faces, plus_plus):
    assert explain.last_conv_layer(masked_cnn) == "conv2"
    cams = explain.gradcam(masked_cnn, faces, [0, 1, 2], plus_plus=plus_plus)
    assert cams.shape == (3, 48, 48)
    r0, r1, c0, c1 = BOX
    for cam in cams:
        r, c = np.unravel_index(cam.argmax(), cam.shape)
        assert r0 <= r < r1 and c0 <= c < c1
        assert cam.max() == pytest.approx(1.0, abs=0.01) and cam.min() >= 0
    # two 3x3 convs spread the region by at most 2 pixels
    assert (_region_mass(cams, BOX, margin=2) > 0.999).all()
    assert (_region_mass(cams, BOX) > 0.6).all()


def test_unknown_layer_and_no_conv_are_user_errors(masked_cnn):
    from keras_fer.errors import UserError

    with pytest.raises(UserError, match="nope"):
        explain.gradcam(masked_cnn, np.zeros((1, 48, 48, 1)), [0], layer="nope")
    inp = keras.Input((48, 48, 1))
    dense_only = keras.Model(inp, keras.layers.Dense(2, name="predictions")(keras.layers.Flatten()(inp)))
    with pytest.raises(UserError, match="no Conv2D"):
        explain.last_conv_layer(dense_only)


def test_random_clone_same_architecture_fresh_reproducible_weights(masked_cnn):
    a = explain.random_clone(masked_cnn, seed=3)
    b = explain.random_clone(masked_cnn, seed=3)
    assert [layer.name for layer in a.layers[1:]] == [layer.name for layer in masked_cnn.layers[1:]]
    wa, wt = a.get_layer("conv1").get_weights()[0], masked_cnn.get_layer("conv1").get_weights()[0]
    assert wa.shape == wt.shape and not np.allclose(wa, wt)
    np.testing.assert_array_equal(wa, b.get_layer("conv1").get_weights()[0])


def test_activations_filters_and_attention(masked_cnn, faces):
    outs = act.layer_outputs(masked_cnn, faces, ["conv1", "conv2", "features"])
    assert list(outs) == ["conv1", "conv2", "features"]
    assert outs["conv1"].shape == (3, 48, 48, 4) and outs["conv2"].shape == (3, 48, 48, 6)
    assert outs["features"].shape == (3, 6)
    np.testing.assert_allclose(outs["features"], outs["conv2"].mean(axis=(1, 2)), rtol=1e-5)
    grid = act.first_maps_grid(outs["conv2"][0], 4)
    assert grid.shape == (4, 48, 48)
    np.testing.assert_allclose(grid.max(axis=(1, 2)), 1.0, atol=1e-6)
    np.testing.assert_allclose(grid.min(axis=(1, 2)), 0.0, atol=1e-6)
    kernels = act.conv_filters(masked_cnn, "conv2")
    assert kernels.shape == (6, 3, 3)
    np.testing.assert_array_equal(kernels[2], masked_cnn.get_layer("conv2").get_weights()[0][:, :, 0, 2])
    assert act.attention_layer(masked_cnn) is None
    # DACL's naming (keras_fer.models.dacl): several rank-2 "attention_*" layers, the weights last
    inp = keras.Input((4, 4, 8))
    x = keras.layers.Flatten(name="attention_flatten")(inp)
    x = keras.layers.Dense(8, activation="sigmoid", name="attention_weights")(x)
    x = keras.layers.Dense(5, name="attention_extra")(x)
    assert act.attention_layer(keras.Model(inp, x)) == "attention_weights"


@pytest.mark.parametrize("name, expected", [("vgg13", "vgg_relu8"), ("baseline", "block2_relu2"),
                                            ("mini_xception", "module4_relu1")])
def test_default_layer_rule_on_the_zoo(name, expected):
    # vgg13 at 44x44: vgg_conv10 (the last Conv2D, before BN and ReLU) and vgg_relu9/10 are 2x2;
    # the block CNN's last ReLU precedes pooling; mini-Xception's last module ends in an Add
    # of batch-normed maps (not rectified), so its last ReLU is inside that module
    from keras_fer.models import create_model

    model = create_model(name)
    assert explain.candidate_layers(model)[-1] == expected
    assert explain.default_layer(model) == expected
    shape = model.get_layer(expected).output.shape
    assert shape[1] * shape[2] > 4


def test_choose_layer_steps_back_from_a_constant_grad_cam():
    # conv2 = relu(1 - A1) (negative kernel, positive bias), the logit = -mean(conv2): every
    # Grad-CAM weight at conv2 is negative, so its map is all zero; at conv1 the chain rule makes
    # the weights positive, so that map is not constant
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    conv1 = keras.layers.Conv2D(2, 1, activation="relu", name="conv1")
    conv2 = keras.layers.Conv2D(2, 1, activation="relu", name="conv2")
    dense = keras.layers.Dense(1, use_bias=False, name="predictions")
    x = conv2(conv1(keras.layers.Rescaling(1 / 255.0)(inp)))
    model = keras.Model(inp, dense(keras.layers.GlobalAveragePooling2D(name="features")(x)))
    conv1.set_weights([np.ones((1, 1, 1, 2), np.float32), np.zeros(2, np.float32)])
    conv2.set_weights([np.full((1, 1, 2, 2), -0.5, np.float32), np.ones(2, np.float32)])
    dense.set_weights([-np.ones((2, 1), np.float32)])
    images = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 1)).astype(np.float32)
    assert explain.candidate_layers(model) == ["conv1", "conv2"]
    assert explain.default_layer(model) == "conv2"
    layer, shares = explain.choose_layer(model, images, [0, 0, 0])
    assert layer == "conv1" and shares == {"conv2": 1.0, "conv1": 0.0}
    # a model without a rectified map (a ViT's linear patch embedding): its last conv layer
    lin = keras.layers.Conv2D(2, 2, strides=2, name="patch_embed")(inp)
    vit_like = keras.Model(inp, keras.layers.Dense(1, name="predictions")(keras.layers.Flatten()(lin)))
    assert explain.candidate_layers(vit_like) == [] and explain.default_layer(vit_like) == "patch_embed"
