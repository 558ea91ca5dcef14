"""EMA of the weights (``TrainConfig.ema``) that works with batch normalisation.

The optimizer keeps the average (Keras' ``use_ema``); ``EMASwap`` swaps it into the model for
validation, the best checkpoint and the resume state at each epoch's end, as Keras'
``SwapEMAWeights(swap_on_epoch=True)`` does, and swaps the raw weights back before training.

Why more than ``SwapEMAWeights``: the batch-norm statistics are not weights. They track the RAW
weights' activations, and under weight decay with a large learning rate the raw weights of a
batch-normalised net rotate quickly while their average shrinks; measured on recipes/cpu_long_150.json
(VGG13 x0.5, SGD 0.05, l2 5e-4, ema 0.999) at epoch 13, the averaged weights with the raw
statistics predicted one class for 98% of PublicTest (accuracy 0.12) where the raw weights
scored 0.56. So each time the average is swapped in, its own statistics are re-estimated
(``recalibrate_batch_norm``: a cumulative mean over a fixed sample of training images, as
``torch.optim.swa_utils.update_bn`` does for SWA), and the raw statistics are put back with the
raw weights.

The sample goes through the run's own training augmentation (a copy with a fixed seed, so the
training's random stream is untouched): the raw statistics, which the raw weights are validated
with, are those of augmented images too. Estimated on clean centre crops instead,
experiments/cpu_budget.json's `ema` run (VGG13 x0.25, 30 epochs, ema 0.998) scored PublicTest
0.6077, against 0.6208 after the change (0.6250 without EMA); ``scripts/ema_calibration.py``
compares the two estimates on a run's weights.
"""
from __future__ import annotations

import keras
import numpy as np

CALIBRATION_IMAGES = 4096
CALIBRATION_BATCH = 256


def calibration_images(images, seed=0, n=CALIBRATION_IMAGES):
    """A fixed random sample of the training images (uint8) for ``recalibrate_batch_norm``."""
    idx = np.random.default_rng(seed).permutation(len(images))[:n]
    return images[np.sort(idx)]


def batch_norm_layers(model) -> list:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(batch_norm_layers(layer))
    return found


def calibration_augment(augment: dict | None, seed=0):
    """The training augmentation ``TrainConfig.augment`` as a layer of its own, seeded, for
    ``recalibrate_batch_norm`` (None without one)."""
    from keras_fer.augment import Augment

    return Augment.from_config_dict({**augment, "seed": seed}) if augment else None


def recalibrate_batch_norm(net, images, batch_size=CALIBRATION_BATCH, augment=None) -> None:
    """Set every batch-norm layer's moving mean and variance to the mean over batches of
    ``images`` (uint8, (N, H, W) or (N, H, W, 1), fitted to the net's input; through
    ``augment(x, training=True)`` first where given, as training sees them) of its batch
    statistics under the net's current weights."""
    from keras_fer.augment import fit_to

    layers = batch_norm_layers(net)
    if not layers:
        return
    size = tuple(int(d) for d in net.input_shape[1:3])
    momenta = [layer.momentum for layer in layers]
    # the forward passes in training mode draw from the net's dropout seed generators: their
    # states are put back, so that the training's random stream does not depend on calibrating
    stats = {id(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)}
    kept = [(v, keras.ops.convert_to_numpy(v).copy())
            for v in net.non_trainable_variables if id(v) not in stats]
    try:
        for k, start in enumerate(range(0, len(images), batch_size)):
            for layer in layers:  # moving = k/(k+1) moving + 1/(k+1) batch: the running mean
                layer.momentum = k / (k + 1)
            x = images[start:start + batch_size]
            x = (x[..., None] if x.ndim == 3 else x).astype("float32")
            if augment is not None:
                x = augment(x, training=True)
            net(fit_to(x, size), training=True)
    finally:
        for layer, m in zip(layers, momenta):
            layer.momentum = m
        for v, value in kept:
            v.assign(value)


def ema_swap(net, images, cfg, n=CALIBRATION_IMAGES):
    """The EMA callback of a training of ``cfg`` on uint8 ``images`` (None without an EMA),
    recalibrating on ``n`` of them: ``make train``'s and every search trial's, so that a trial
    validates the average with its own batch-norm statistics as the retrained run will (Keras'
    ``SwapEMAWeights`` keeps the raw weights' statistics beside the average)."""
    if not cfg.ema:
        return None
    return EMASwap(net, calibration_images(images, cfg.seed, n), calibration_augment(cfg.augment, cfg.seed))


class EMASwap(keras.callbacks.SwapEMAWeights):
    """Averaged weights (with their own batch-norm statistics) in the model for validation and
    at each epoch's end; raw weights (with theirs) during training. The "average is in the
    model" flag is resume state: a resumed run swaps the raw weights back before training.

    Args:
        net: the inference model whose batch-norm layers are recalibrated.
        calibration: uint8 training images for ``recalibrate_batch_norm``.
        augment: the training augmentation they go through (``calibration_augment``), or None.
    """

    def __init__(self, net, calibration, augment=None):
        super().__init__(swap_on_epoch=True)
        # its seed generator's state is resume state: it advances at each recalibration, so a
        # resumed run must go on from where the interrupted one was, not from the seed
        self.net, self.calibration, self.augment = net, calibration, augment
        self._stats = [v for layer in batch_norm_layers(net)
                       for v in (layer.moving_mean, layer.moving_variance)]
        self._raw_stats = self._ema_stats = None

    def _read(self):
        return [keras.ops.convert_to_numpy(v).copy() for v in self._stats]

    def _write(self, values):
        for v, value in zip(self._stats, values):
            v.assign(value)

    def _average_in(self):
        self._raw_stats = self._read()
        self._swap_variables()
        self._ema_weights_in_model = True
        if self._ema_stats is None:  # once per epoch: the average only changes in training
            recalibrate_batch_norm(self.net, self.calibration, augment=self.augment)
            self._ema_stats = self._read()
        else:
            self._write(self._ema_stats)

    def _raw_in(self):
        self._swap_variables()
        self._ema_weights_in_model = False
        if self._raw_stats is not None:  # None after a resume: the saved statistics serve
            self._write(self._raw_stats)

    def on_epoch_begin(self, epoch, logs=None):
        self._ema_stats = None
        if self._ema_weights_in_model:
            self._raw_in()

    def on_epoch_end(self, epoch, logs=None):
        if not self._ema_weights_in_model:
            self._average_in()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._average_in()

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._raw_in()

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def get_state(self):
        state = {"ema_in_model": bool(self._ema_weights_in_model)}
        if self.augment is not None:  # where the calibration's draws go on after a resume
            seed = keras.ops.convert_to_numpy(self.augment.seed_generator.state)
            state["calibration_seed"] = [int(v) for v in seed]
        return state

    def set_state(self, state):
        self._ema_weights_in_model = bool(state.get("ema_in_model", False))
        seed = state.get("calibration_seed")
        if self.augment is not None and seed is not None:
            generator = self.augment.seed_generator
            generator.state.assign(np.asarray(seed, dtype=generator.state.dtype))
