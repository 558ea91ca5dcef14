"""EMA of the weights (``TrainConfig.ema``): the saved model holds Keras' moving average of the
raw weights (checked against a NumPy EMA of a plain run's weights), and a run killed after an
epoch resumes to the same weights as one that was never interrupted."""
import json

import keras
import numpy as np
import pytest

from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.train import run
from tests.train.test_train import Kill


class RawWeights(keras.callbacks.Callback):
    """The trainable weights at each epoch's end (one step per epoch here)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append([keras.ops.convert_to_numpy(w).copy()
                          for w in self.model.net.trainable_weights])


def _trainable(path):
    model = keras.saving.load_model(path, compile=False)
    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


@pytest.fixture
def one_step_cfg(tiny_cfg):
    # one batch holds all 70 images: an epoch is one step, whatever the shuffle
    return tiny_cfg.replace(epochs=3, batch_size=128, monitor="val_loss",
                            optimizer={"name": "sgd", "learning_rate": 0.05})


def test_saved_model_is_the_numpy_ema_of_the_raw_weights(fer_small, one_step_cfg, tmp_path):
    raw = RawWeights()
    run(one_step_cfg.replace(out=str(tmp_path / "plain")), fer_small, callbacks=[raw])
    m = 0.5
    ema = [[w.copy() for w in raw.seen[0]]]  # Keras' first step copies the weights
    for step in raw.seen[1:]:
        ema.append([m * e + (1 - m) * w for e, w in zip(ema[-1], step)])
    seen = RawWeights()  # callbacks after the swap see the averaged weights at an epoch's end
    out = run(one_step_cfg.replace(out=str(tmp_path / "ema"), ema=m), fer_small, callbacks=[seen])
    for epoch in range(3):
        for got, want in zip(seen.seen[epoch], ema[epoch]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    best = json.loads((out / "summary.json").read_text())["best_epoch"]
    for saved, want in zip(_trainable(out / "model.keras"), ema[best - 1]):
        np.testing.assert_allclose(saved, want, rtol=1e-4, atol=1e-6)
    # the average is not the raw weights: the test would notice an EMA that did nothing
    assert any(not np.allclose(a, b, atol=1e-5) for a, b in zip(ema[2], raw.seen[2]))


def test_resumed_ema_run_matches_an_uninterrupted_one(fer_small, one_step_cfg, tmp_path):
    cfg = one_step_cfg.replace(ema=0.7, epochs=3)
    whole = run(cfg.replace(out=str(tmp_path / "whole")), fer_small)
    cut = cfg.replace(out=str(tmp_path / "cut"))
    with pytest.raises(KeyboardInterrupt):
        run(cut, fer_small, callbacks=[Kill(1)])
    resumed = run(cut, fer_small)
    for a, b in zip(_trainable(whole / "model.keras"), _trainable(resumed / "model.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    losses = [[float(r.split(",")[h.split(",").index("val_loss")]) for r in rows]
              for h, *rows in ((d / "history.csv").read_text().split() for d in (whole, resumed))]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


def test_resumed_ema_run_with_augmentation_matches_an_uninterrupted_one(fer_small, one_step_cfg,
                                                                        tmp_path):
    # every shipped recipe's combination: the averaged weights' batch-norm statistics are
    # estimated on augmented images each epoch, so the resume must go on drawing where the
    # uninterrupted run did (issue 40: the validation columns differed after a resume)
    from tests.train.conftest import TINY

    model = tmp_path / "tiny_bn.json"
    model.write_text(json.dumps({**TINY, "blocks": [{**b, "norm": "batch"} for b in TINY["blocks"]]}))
    cfg = one_step_cfg.replace(model=str(model), ema=0.5, epochs=4,
                               augment={"flip": True, "affine": {"rotation": 10, "translate": 0.1}})
    whole = run(cfg.replace(out=str(tmp_path / "whole")), fer_small)
    cut = cfg.replace(out=str(tmp_path / "cut"))
    with pytest.raises(KeyboardInterrupt):
        run(cut, fer_small, callbacks=[Kill(2)])
    resumed = run(cut, fer_small)
    assert (resumed / "history.csv").read_text() == (whole / "history.csv").read_text()
    for a, b in zip(_all_weights(whole / "model.keras"), _all_weights(resumed / "model.keras")):
        np.testing.assert_array_equal(a, b)


def _all_weights(path):  # the batch-norm statistics too
    return [keras.ops.convert_to_numpy(w) for w in keras.saving.load_model(path, compile=False).weights]


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.1])
def test_ema_outside_0_1_is_a_user_error(value):
    with pytest.raises(UserError, match="ema must be in"):
        TrainConfig(ema=value).validate()


def test_recalibrated_statistics_are_the_mean_of_the_batch_statistics():
    from keras_fer.train.ema import recalibrate_batch_norm

    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1))
    conv = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    net = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9, name="bn")(conv))
    images = np.random.default_rng(0).integers(0, 256, (10, 48, 48), dtype=np.uint8)
    recalibrate_batch_norm(net, images, batch_size=4)  # batches of 4, 4 and 2
    feats = keras.ops.convert_to_numpy(keras.Model(inputs, conv)(images[..., None].astype("float32")))
    batches = [feats[0:4], feats[4:8], feats[8:10]]
    bn = net.get_layer("bn")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean),
                               np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0), rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance),
                               np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0), rtol=1e-4)
    assert bn.momentum == 0.9


def test_recalibration_sees_the_training_augmentation():
    """The statistics are those of the augmented batches (as the raw statistics are), drawn from
    the run's augmentation with its own seed: the same figures each time, and not those of
    clean centre crops."""
    from keras_fer.train.ema import calibration_augment, recalibrate_batch_norm

    spec = {"flip": True, "crop": 44, "affine": {"rotation": 10, "translate": 0.1}, "erasing": 0.5}
    keras.utils.set_random_seed(0)
    inputs = keras.Input((44, 44, 1))
    conv = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    net = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(conv))
    images = np.random.default_rng(0).integers(0, 256, (10, 48, 48), dtype=np.uint8)
    bn = net.get_layer("bn")

    def stats():
        return [keras.ops.convert_to_numpy(v).copy() for v in (bn.moving_mean, bn.moving_variance)]

    recalibrate_batch_norm(net, images, batch_size=4, augment=calibration_augment(spec, seed=3))
    got = stats()
    ref_aug, features = calibration_augment(spec, seed=3), keras.Model(inputs, conv)
    batches = [keras.ops.convert_to_numpy(features(ref_aug(
        images[i:i + 4, ..., None].astype("float32"), training=True))) for i in (0, 4, 8)]
    np.testing.assert_allclose(got[0], np.mean([b.mean(axis=(0, 1, 2)) for b in batches], 0), rtol=1e-4)
    np.testing.assert_allclose(got[1], np.mean([b.var(axis=(0, 1, 2)) for b in batches], 0), rtol=1e-4)
    recalibrate_batch_norm(net, images, batch_size=4, augment=calibration_augment(spec, seed=3))
    np.testing.assert_allclose(stats()[0], got[0], rtol=1e-6)  # seeded: the same each time
    recalibrate_batch_norm(net, images, batch_size=4)  # centre crops: other statistics
    assert not np.allclose(stats()[1], got[1], rtol=1e-2)
    assert calibration_augment({}) is None


def test_recalibration_leaves_the_training_untouched(fer_small, one_step_cfg, tmp_path):
    # the calibration's augmentation has its own seed: the raw weights train exactly as without EMA
    cfg = one_step_cfg.replace(model="batchnorm", augment={"flip": True, "affine": {"rotation": 10}})
    losses = []
    for name, ema in (("plain", None), ("ema", 0.5)):
        out = run(cfg.replace(out=str(tmp_path / name), ema=ema), fer_small)
        head, *rows = (out / "history.csv").read_text().split()
        losses.append([float(r.split(",")[head.split(",").index("loss")]) for r in rows])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_validation_sees_the_average_with_its_own_statistics(fer_small, one_step_cfg, tmp_path):
    # a batch-norm net: the logged val_loss is the saved (averaged, recalibrated) model's
    cfg = one_step_cfg.replace(model="batchnorm", ema=0.5, epochs=2, monitor="val_loss",
                               out=str(tmp_path / "bn"))
    out = run(cfg, fer_small)
    model = keras.saving.load_model(out / "model.keras", compile=False)
    from keras_fer.train.core import select_data

    _, (vx, vy), _ = select_data(cfg, fer_small)
    logits = keras.ops.convert_to_numpy(model(vx[..., None].astype("float32"), training=False))
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    loss = -logp[np.arange(len(vy)), vy].mean()
    best = json.loads((out / "summary.json").read_text())["best"]["val_loss"]
    np.testing.assert_allclose(loss, best, rtol=1e-3)
