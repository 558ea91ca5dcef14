"""The Augment layer: config, determinism, schedule, and use inside a jitted train step."""
import keras
import numpy as np
import pytest
from keras import ops

from keras_fer.augment import Augment, AugmentEpoch, find_augment_layers
from keras_fer.errors import UserError

pytestmark = pytest.mark.backends

FULL = dict(flip=True, crop=44, pad=2, rotation=10, translate=0.1, scale=[0.9, 1.1],
            brightness=[0.5, 1.5], contrast=0.3, sharpness=[1, 6], erasing=0.5)


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(0).randint(0, 256, (4, 48, 48, 1)).astype("uint8")


def np_(x):
    return ops.convert_to_numpy(x)



def eager(layer):
    return lambda x: np_(layer(x, training=True))


def test_full_augmentation_shapes_range_determinism(images):
    a, b = Augment(**FULL, seed=7), Augment(**FULL, seed=7)
    run_a = eager(a)
    out = run_a(images)
    assert out.shape == (4, 44, 44, 1) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 255.0
    np.testing.assert_array_equal(out, eager(b)(images))
    assert not np.array_equal(out, run_a(images))  # the generator moves on
    np.testing.assert_array_equal(np_(a(images)), images[:, 2:46, 2:46].astype("float32"))
    assert a.compute_output_shape((None, 48, 48, 1)) == (None, 44, 44, 1)


def test_random_crop_and_flip_are_exact_windows(images):
    out = np_(Augment(flip=True, crop=44, pad=0, seed=1)(images, training=True))
    x = images.astype("float32")
    seen_flip = 0
    for i in range(4):
        cands = [(s, top, left) for s, src in ((0, x[i]), (1, x[i, :, ::-1])) for top in range(5)
                 for left in range(5) if np.array_equal(out[i], src[top:top + 44, left:left + 44])]
        assert cands, f"sample {i} is not a flipped/unflipped 44-pixel window"
        seen_flip += cands[0][0]
    assert 0 < seen_flip < 4
    five = np_(Augment(flip=False, crop=40, five_crop=True, seed=2)(images, training=True))
    offsets = [(0, 0), (0, 8), (8, 0), (8, 8), (4, 4)]
    for i in range(4):
        assert any(np.array_equal(five[i], x[i, top:top + 40, left:left + 40]) for top, left in offsets)


def test_alternate_schedule(images):
    layer = Augment(**FULL, alternate=True, seed=3)
    run = eager(layer)
    center = images[:, 2:46, 2:46].astype("float32")
    for epoch in (0, 2):
        layer.epoch.assign(epoch)
        np.testing.assert_array_equal(run(images), center)
    # odd epochs: one transform per batch: with brightness [0, 0] and flip only, a batch is
    # either all black or made of (possibly flipped) centre crops.
    two = Augment(flip=True, brightness=[0, 0], alternate=True, seed=4)
    two.epoch.assign(1)
    run, full = eager(two), images.astype("float32")
    kinds = set()
    for _ in range(8):
        out = run(images)
        if not out.any():
            kinds.add("brightness")
        else:
            assert all(np.array_equal(o, c) or np.array_equal(o, c[:, ::-1]) for o, c in zip(out, full))
            kinds.add("flip")
    assert kinds == {"brightness", "flip"}


def test_config_round_trip_and_validation():
    layer = Augment.from_config_dict({"flip": True, "crop": 44, "affine": {"rotation": 10, "scale": 0.1},
                                      "brightness": 0.5, "sharpness": [1, 6], "seed": 1})
    assert layer.rotation == 10.0 and layer.scale == [0.9, 1.1] and layer.brightness == [0.5, 1.5]
    config = layer.get_config()
    clone = Augment.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, Augment) and restored.get_config() == config
    with pytest.raises(UserError, match="unknown augmentation 'blur'"):
        Augment.from_config_dict({"blur": 1})
    with pytest.raises(UserError, match="erasing must be .* got 1.5"):
        Augment.from_config_dict({"erasing": 1.5})
    with pytest.raises(UserError, match="brightness"):
        Augment.from_config_dict({"brightness": [2, 1]})
    with pytest.raises(UserError, match="five_crop"):
        Augment.from_config_dict({"five_crop": True})
    with pytest.raises(UserError, match="crop 56 is larger than the 48x48 images"):
        Augment(crop=56, pad=2)(np.zeros((1, 48, 48, 1), "uint8"), training=True)


def test_inside_jitted_train_step(images):
    """uint8 in, augment, tiny conv net; jit-compiled fit on the backend; the epoch callback
    reaches the layer without breaking the compiled step."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1), dtype="uint8")
    x = Augment(**FULL, alternate=True, seed=0, name="augment")(inputs)
    x = keras.layers.Rescaling(1 / 255.0)(x)
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(7)(x))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    data = np.tile(images, (6, 1, 1, 1))
    labels = np.arange(24) % 7
    history = model.fit(data, labels, batch_size=8, epochs=2, verbose=0, callbacks=[AugmentEpoch()])
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 2
    layer, = find_augment_layers(model)
    assert int(np_(layer.epoch)) == 1
    assert model.predict(data[:2], verbose=0).shape == (2, 7)
