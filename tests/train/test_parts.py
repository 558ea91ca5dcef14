"""Schedules, optimizers, the training loss and the auxiliary (center) loss; one whole run on
each backend."""
import keras
import numpy as np
import pytest

from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.train import build_optimizer, build_training_model, lr_at_epoch, make_schedule
from keras_fer.train.schedules import MetricSchedule, current_lr, parse_schedule


def test_step_and_exponential_rates():
    name, s = parse_schedule({"name": "step"})  # ÷10 every 20 epochs
    assert [lr_at_epoch(name, s, 1.0, e) for e in (0, 19, 20, 39, 40, 45)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])
    name, s = parse_schedule({"name": "step", "every": 5, "factor": 0.2})  # ÷5 every 5
    assert [lr_at_epoch(name, s, 1.0, e) for e in (4, 5, 10)] == pytest.approx([1, 0.2, 0.04])
    name, s = parse_schedule({"name": "exponential"})  # ×0.9 every 5 epochs after epoch 80
    assert [lr_at_epoch(name, s, 1.0, e) for e in (79, 80, 84, 85, 90)] == pytest.approx(
        [1, 0.9, 0.9, 0.81, 0.729])
    with pytest.raises(UserError, match="unknown setting 'evry'"):
        parse_schedule({"name": "step", "evry": 5})
    with pytest.raises(UserError, match="unknown name 'poly'"):
        parse_schedule({"name": "poly"})


def _rate(lr, step) -> np.float32:
    return np.float32(lr if isinstance(lr, float) else keras.ops.convert_to_numpy(lr(step)))


@pytest.mark.parametrize("spec", [{"name": "step", "every": 2, "factor": 0.5},
                                  {"name": "exponential", "start": 3, "every": 2, "factor": 0.9},
                                  {"name": "constant"}])
def test_epoch_indexed_schedules_are_a_rate_of_the_step_equal_to_lr_at_epoch(spec):
    steps, epochs = 3, 8
    lr, cb = make_schedule(spec, 0.1, epochs, steps, "val_accuracy")
    assert cb is None  # nothing to run per epoch: the optimizer's step counter drives the rate
    name, settings = parse_schedule(spec)
    for epoch in range(epochs + 2):  # past the last epoch: the last rate
        want = np.float32(lr_at_epoch(name, settings, 0.1, min(epoch, epochs - 1)))
        got = [_rate(lr, epoch * steps + k) for k in range(steps)]
        assert got == [want] * steps, (epoch, got, want)  # exactly: float32 of the same float
    assert isinstance(lr, float) == (spec["name"] == "constant")
    # no cut within the run's epochs: a plain float, as for constant
    assert make_schedule({"name": "step", "every": 20}, 0.1, 20, steps, "val_loss") == (0.1, None)


class _RateSpy(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(current_lr(self.model.optimizer))  # the rate this batch's step uses


@pytest.mark.backends
def test_a_step_schedule_sets_each_epochs_rate_in_fit():
    spec = {"name": "step", "every": 1, "factor": 0.5}
    lr, _ = make_schedule(spec, 0.1, 3, 2, "val_accuracy")
    cfg = TrainConfig(optimizer={"name": "sgd", "learning_rate": 0.1})
    tm = build_training_model(_net(), cfg, optimizer=build_optimizer(cfg.optimizer, lr))
    x = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1)).astype("uint8")
    y = np.arange(8) % 7
    spy = _RateSpy()
    tm.fit((x, y), y, batch_size=4, epochs=3, verbose=0, shuffle=False, callbacks=[spy])
    assert np.float32(spy.rates).tolist() == np.float32([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]).tolist()


class _Holder:
    def __init__(self, lr):
        self.optimizer = keras.optimizers.SGD(lr)


def test_plateau_and_f1_drop_adjust_the_rate_and_keep_state():
    _, cb = make_schedule({"name": "reduce_on_plateau", "patience": 2}, 1.0, 50, 10, "val_loss")
    cb.set_model(_Holder(1.0))
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.91]):  # 2 epochs without improvement
        cb.on_epoch_end(epoch, {"val_loss": loss})
    assert current_lr(cb.model.optimizer) == pytest.approx(0.1)
    assert cb.get_state() == {"best": 0.9, "wait": 0}
    resumed = MetricSchedule(cb.name, cb.settings)
    resumed.set_state({"best": 0.9, "wait": 1})
    resumed.set_model(_Holder(0.5))
    resumed.on_epoch_end(5, {"val_loss": 0.92})
    assert current_lr(resumed.model.optimizer) == pytest.approx(0.05)

    _, f1 = make_schedule({"name": "f1_drop"}, 1.0, 50, 10, "val_accuracy")
    f1.set_model(_Holder(1.0))
    for epoch, value in enumerate([0.50, 0.46, 0.40, 0.41]):  # 0.46: -8%; 0.40: -13% -> ×0.8
        f1.on_epoch_end(epoch, {"val_macro_f1": value})
    assert current_lr(f1.model.optimizer) == pytest.approx(0.8)


def test_cosine_with_warmup():
    lr, cb = make_schedule({"name": "cosine", "warmup_epochs": 2}, 0.1, 10, 5, "val_accuracy")
    assert cb is None
    values = [float(keras.ops.convert_to_numpy(lr(step))) for step in (0, 5, 10, 30, 50)]
    assert values == pytest.approx([0.0, 0.05, 0.1, 0.05, 0.0], abs=1e-6)


def test_cosine_with_alpha_one_is_warmup_then_constant():
    """experiments/batchnorm_head.json's batchnorm_warmup relies on this: no decay after warm-up."""
    lr, _ = make_schedule({"name": "cosine", "warmup_epochs": 1, "alpha": 1.0}, 0.01, 30, 4,
                          "val_accuracy")
    values = [float(keras.ops.convert_to_numpy(lr(step))) for step in (0, 2, 4, 60, 119)]
    assert values == pytest.approx([0.0, 0.005, 0.01, 0.01, 0.01], abs=1e-7)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adamax", "adagrad"])
def test_optimizers_with_weight_decay(name):
    opt = build_optimizer({"name": name, "learning_rate": 0.02, "weight_decay": 1e-4})
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.02)
    assert opt.weight_decay == pytest.approx(1e-4)


def test_sgd_nesterov_and_bad_settings():
    opt = build_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": True})
    assert opt.nesterov and opt.momentum == 0.9
    with pytest.raises(UserError, match="unknown setting 'momentum'"):
        build_optimizer({"name": "adam", "momentum": 0.9})
    with pytest.raises(UserError, match="learning_rate must be a positive number"):
        build_optimizer({"name": "adam", "learning_rate": -1})


def _net(aux=False):
    from keras_fer.layers import SparseCenterLoss

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(x)
    feats = keras.layers.GlobalAveragePooling2D(name="features")(x)
    if aux:
        att = keras.layers.Dense(4, activation="sigmoid")(feats)
        feats = SparseCenterLoss(7, 4, lam=0.5, alpha=0.5, seed=1, name="center")([feats, att])
    return keras.Model(inputs, keras.layers.Dense(7, name="predictions")(feats))


@pytest.mark.backends
@pytest.mark.parametrize("policy", [None, "mixed_bfloat16"])
def test_loss_is_class_weighted_smoothed_crossentropy(policy):
    labels = np.array([0, 1, 1, 2, 3, 3, 3, 6])
    cfg = TrainConfig(loss={"name": "class_weighted", "label_smoothing": 0.1})
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy or previous)
    try:
        net = _net()
    finally:
        keras.config.set_dtype_policy(previous)
    tm = build_training_model(net, cfg, train_labels=labels)
    x = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1)).astype("uint8")
    logits, targets = tm((x, labels), training=False)
    z = keras.ops.convert_to_numpy(logits).astype(np.float64)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    counts = np.bincount(labels, minlength=7)
    class_w = np.where(counts > 0, len(labels) / (7 * np.maximum(counts, 1)), 0.0)
    # one-hot targets, and mixup's soft ones (the class weight mixes as the labels do)
    mixed = 0.7 * np.eye(7)[labels] + 0.3 * np.eye(7)[labels[::-1]]
    for onehot in (np.eye(7)[labels], mixed):
        loss = tm.compute_loss(y=labels, y_pred=(logits, keras.ops.convert_to_tensor(
            onehot.astype("float32"))))
        assert keras.backend.standardize_dtype(loss.dtype) == "float32"
        w = onehot @ class_w
        soft = onehot * 0.9 + 0.1 / 7
        assert float(loss) == pytest.approx(np.mean(w * -(soft * logp).sum(1)), rel=1e-5)
    with pytest.raises(UserError, match="unknown name 'focal'"):
        build_training_model(_net(), TrainConfig(loss={"name": "focal"}))


@pytest.mark.backends
def test_l2_is_pytorch_weight_decay_through_the_momentum():
    # all-zero images: the data gives the Dense kernel no gradient, so its update is the L2
    # term alone, as PyTorch's SGD(weight_decay=l2, momentum=m) does it:
    # v1 = l2 * w0; w1 = w0 - lr * v1; v2 = m * v1 + l2 * w1; w2 = w1 - lr * v2
    inputs = keras.Input((4, 4, 1))
    net = keras.Model(inputs, keras.layers.Dense(7, name="predictions")(keras.layers.Flatten()(inputs)))
    w0 = keras.ops.convert_to_numpy(net.get_layer("predictions").kernel).astype(np.float64)
    lr, m, l2 = 0.1, 0.9, 0.05
    cfg = TrainConfig(optimizer={"name": "sgd", "learning_rate": lr, "momentum": m},
                      loss={"name": "crossentropy", "l2": l2})
    tm = build_training_model(net, cfg)
    x, y = np.zeros((8, 4, 4, 1), "uint8"), np.arange(8) % 7
    logits, targets = tm((x, y), training=False)
    bias = keras.ops.convert_to_numpy(net.get_layer("predictions").bias)
    penalty = 0.5 * l2 * ((w0 ** 2).sum() + (bias ** 2).sum())
    ce = float(tm.compute_loss(y=y, y_pred=(logits, targets))) - penalty
    assert ce == pytest.approx(np.log(7), rel=1e-5)  # zero bias and zero inputs: uniform logits
    tm.fit((x, y), y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    v1 = l2 * w0
    w1 = w0 - lr * v1
    w2 = w1 - lr * (m * v1 + l2 * w1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(net.get_layer("predictions").kernel), w2,
                               rtol=1e-5)
    with pytest.raises(UserError, match=r"loss: l2 must be a number >= 0, got -1"):
        build_training_model(net, TrainConfig(loss={"name": "crossentropy", "l2": -1}))


@pytest.mark.backends
def test_center_loss_is_added_and_centers_move_in_the_compiled_step():
    net = _net(aux=True)
    tm = build_training_model(net, TrainConfig(optimizer={"name": "sgd", "learning_rate": 0.01}))
    centers = net.get_layer("center")
    before = keras.ops.convert_to_numpy(centers.centers).copy()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 48, 48, 1)).astype("uint8")
    y = rng.integers(0, 7, 16)
    z = keras.ops.convert_to_numpy(tm((x, y), training=False)[0]).astype(np.float64)
    ce = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(16), y])  # cross-entropy alone
    hist = tm.fit((x, y), y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    after = keras.ops.convert_to_numpy(centers.centers)
    moved = np.abs(after - before).sum(1) > 0
    assert set(np.nonzero(moved)[0]) == set(np.unique(y))  # exactly the classes in the batch
    assert hist.history["loss"][0] > ce + 1e-3  # cross-entropy + lam * center loss


@pytest.mark.backends
def test_one_run_on_this_backend(fer_small, tiny_cfg):
    from keras_fer import rundir
    from keras_fer.train import run

    # 70 images in 2 batches of 35: one compiled train step
    out = run(tiny_cfg.replace(epochs=1, batch_size=35, augment={"flip": True, "mix": "mixup"}),
              fer_small)
    meta = rundir.read_meta(out)
    assert meta["backend"] == keras.backend.backend() and meta["best_epoch"] == 1
    assert rundir.load_model(out).output_shape == (None, 7)


@pytest.mark.backends
def test_resume_state_keeps_the_augmentations_random_stream(tmp_path):
    from keras_fer.train.callbacks import ResumeState

    tm = build_training_model(_net(), TrainConfig(augment={"flip": True, "mix": "mixup"}))
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("uint8")
    y = np.arange(4)
    tm.fit((x, y), y, epochs=1, verbose=0)
    resume = ResumeState(tmp_path / "resume.npz", {}, "f")
    resume.set_model(tm)
    resume.save(1)
    state = tm.augment.seed_generator.state
    saved = keras.ops.convert_to_numpy(state).copy()
    tm.fit((x, y), y, epochs=1, verbose=0)  # draws: the generator moves on
    assert not np.array_equal(keras.ops.convert_to_numpy(state), saved)
    assert resume.restore(tm) == 1
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(state), saved)


def test_resume_state_of_another_optimizer_set_up_is_a_user_error(tmp_path):
    # runs of the step schedule resumed after it became a rate schedule: one variable less
    from keras_fer.train.callbacks import ResumeState

    cfg = TrainConfig(optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    old = build_training_model(_net(), cfg)  # the rate is an optimizer variable
    x = np.zeros((4, 48, 48, 1), "uint8")
    old.fit((x, np.arange(4)), np.arange(4), epochs=1, verbose=0)
    resume = ResumeState(tmp_path / "resume.npz", {}, "f")
    resume.set_model(old)
    resume.save(1)
    lr, _ = make_schedule({"name": "step", "every": 1}, 0.1, 3, 1, "val_accuracy")
    new = build_training_model(_net(), cfg, optimizer=build_optimizer(cfg.optimizer, lr))
    with pytest.raises(UserError, match=r"resume\.npz: resume state of another optimizer set-up "
                                        r"\(6 variables, this run's has 5; .* delete "):
        resume.restore(new)
