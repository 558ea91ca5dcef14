"""The search space maps onto the toolkit's own configs and models."""
import keras_tuner as kt
import pytest

from keras_fer.config import TrainConfig
from keras_fer.models.blockcnn import DEFINITIONS_DIR, load_definition, validate
from tuning.hypermodel import AUGMENT_LEVELS, FERHyperModel, config_from_values, declare


def test_fixed_arguments_are_checked():
    with pytest.raises(TypeError, match="TrainConfig"):
        FERHyperModel({"epochs": 1})
    with pytest.raises(ValueError, match="num_classes"):
        FERHyperModel(TrainConfig(), num_classes=1)
    with pytest.raises(ValueError, match="empty"):
        FERHyperModel(TrainConfig(), train_labels=[])


def test_every_hyperparameter_is_named_with_a_default():
    hp = kt.HyperParameters()
    values = declare(hp)
    assert set(values) == {p.name for p in hp.space} == set(hp.values)
    assert values == {"depth": 5, "width": 32, "kernel1": 3, "kernel2": 3, "norm": "batch",
                      "optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 1e-4,
                      "dropout": 0.3, "augment": "light"}
    ranges = {p.name: p.get_config() for p in hp.space}
    assert (ranges["depth"]["min_value"], ranges["depth"]["max_value"]) == (4, 8)
    assert ranges["learning_rate"]["sampling"] == "log"
    assert (ranges["learning_rate"]["min_value"], ranges["learning_rate"]["max_value"]) == (1e-4, 1e-1)
    assert ranges["norm"]["values"] == ["none", "batch", "instance"]
    assert ranges["optimizer"]["values"] == ["sgd", "adam", "adamw", "rmsprop"]


def test_depth7_width32_is_the_studys_seven_layer_model():
    values = {"depth": 7, "width": 32, "kernel1": 3, "kernel2": 3, "norm": "none",
              "optimizer": "sgd", "learning_rate": 0.01, "weight_decay": 5e-4, "dropout": 0.5,
              "augment": "none"}
    cfg = config_from_values(TrainConfig(epochs=2), values)
    ours, study = validate(cfg.model_args), load_definition(DEFINITIONS_DIR / "depth7.json")
    assert ours["blocks"] == study["blocks"] and ours["head"] == study["head"]
    assert cfg.optimizer == {"name": "sgd", "learning_rate": 0.01, "weight_decay": 5e-4,
                             "momentum": 0.9, "nesterov": True}
    assert cfg.augment == {} and cfg.epochs == 2
    kernels = config_from_values(TrainConfig(), {**values, "kernel1": 7, "kernel2": 5, "depth": 4})
    assert (validate(kernels.model_args)["blocks"]
            == load_definition(DEFINITIONS_DIR / "kernel_7_5.json")["blocks"])
    assert (config_from_values(TrainConfig(), {**values, "augment": "strong"}).augment
            == AUGMENT_LEVELS["strong"])


def test_build_gives_the_trainers_compiled_model():
    import numpy as np

    hm = FERHyperModel(TrainConfig(batch_size=4), num_classes=7, train_labels=np.arange(14) % 7)
    model = hm.build(kt.HyperParameters())
    assert model.net.get_layer("predictions").units == 7
    assert model.optimizer.__class__.__name__ == "Adam"
    assert model.augment is not None and model.augment.rotation == 5.0


class _FitSpy:
    """Stands for the compiled model ``fit`` receives: records the callbacks it is given."""

    def __init__(self, use_ema=False):
        from types import SimpleNamespace

        self.optimizer, self.augment = SimpleNamespace(use_ema=use_ema), None

    def fit(self, *args, callbacks=None, **kwargs):
        self.callbacks = callbacks
        return "history"


def test_fit_takes_the_schedule_from_hp_not_from_a_previous_build():
    import numpy as np

    from keras_fer.train.schedules import MetricSchedule

    base = TrainConfig(batch_size=4, schedule={"name": "reduce_on_plateau", "patience": 2},
                       monitor="val_macro_f1")
    labels = np.arange(14) % 7
    hp = kt.HyperParameters()
    model = _FitSpy()
    # a fresh instance that never built: fit alone derives the trial's callbacks
    assert FERHyperModel(base, train_labels=labels).fit(hp, model, epochs=1) == "history"
    [schedule] = model.callbacks
    assert isinstance(schedule, MetricSchedule) and schedule.name == "reduce_on_plateau"
    assert schedule.settings["monitor"] == "val_macro_f1" and schedule.settings["patience"] == 2
    # each fit gets its own callback (a trial's plateau state never leaks into the next)
    hm = FERHyperModel(base, train_labels=labels)
    hm.fit(hp, model, callbacks=["tuner's"])
    first = model.callbacks
    hm.fit(hp, model)
    assert first[1:] == ["tuner's"] and first[0] is not model.callbacks[0]
    # a step schedule is the optimizer's rate: build puts it there, fit adds no callback
    step = FERHyperModel(base.replace(schedule={"name": "step", "every": 1}), train_labels=labels)
    step.fit(hp, model)
    assert model.callbacks == []
    opt = step.build(hp).optimizer
    opt.iterations.assign(4)  # 14 images in batches of 4: epoch 2 begins at step 4
    assert float(opt.learning_rate) == pytest.approx(1e-4)  # the space's 1e-3, cut by 10


def test_a_hyperband_round_reloads_the_trial_it_continues(tmp_path):
    """KerasTuner's Hyperband continues a trial in its next round with what it saved
    (``Hyperband._build_hypermodel``): a new model built from ``get_build_config()``, then the
    checkpoint's weights. A real search failed every such round ("loading weights into a model
    that has not yet been built")."""
    import json

    import numpy as np

    hm = FERHyperModel(TrainConfig(batch_size=4, mixed_precision=False),
                       train_labels=np.arange(14) % 7)
    hp = kt.HyperParameters()
    images = np.random.default_rng(0).integers(0, 256, (8, 48, 48), dtype="uint8")
    labels = np.arange(8) % 7
    first = hm.build(hp)
    first.fit((images, labels), labels, epochs=1, verbose=0)
    first.save_weights(tmp_path / "checkpoint.weights.h5")
    config = json.loads(json.dumps(first.get_build_config()))  # as KerasTuner stores it

    again = hm.build(hp)
    again.build_from_config(config)
    again.load_weights(tmp_path / "checkpoint.weights.h5")
    assert len(again.weights) == len(first.weights) > 0
    for a, b in zip(again.weights, first.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_an_ema_trial_validates_the_average_with_its_own_batch_norm_statistics():
    """As `make train` does (keras_fer.train.ema.EMASwap): Keras' SwapEMAWeights left the raw
    weights' batch-norm statistics beside the averaged weights, which scored EMA trials below
    what they train to. At each epoch's end (KerasTuner's checkpoint) the model holds what
    validation saw: the average with the statistics that a recalibration gives it."""
    import keras
    import numpy as np

    from keras_fer.train.ema import batch_norm_layers, calibration_images, recalibrate_batch_norm

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (32, 48, 48, 1)).astype("uint8"), np.arange(32) % 7
    base = TrainConfig(batch_size=8, epochs=2, ema=0.5, seed=1, verbose=0)
    hm = FERHyperModel(base, train_labels=y)  # the blockcnn space: batch norm by default
    hp = kt.HyperParameters()
    hp.Fixed("augment", "none")  # a deterministic recalibration to compare with
    model = hm.build(hp)

    def stats():
        return [keras.ops.convert_to_numpy(v).copy() for layer in batch_norm_layers(model.net)
                for v in (layer.moving_mean, layer.moving_variance)]

    class Probe(keras.callbacks.Callback):  # after the trainer's callbacks, as KerasTuner's
        seen = []

        def on_epoch_end(self, epoch, logs=None):
            held = stats()
            recalibrate_batch_norm(model.net, calibration_images(x, base.seed))
            self.seen.append((held, stats()))

    hm.fit(hp, model, (x, y), y, validation_data=((x[:14], y[:14]), y[:14]), epochs=2,
           callbacks=[Probe()])
    assert len(Probe.seen) == 2 and len(Probe.seen[0][0]) == 5 * 2  # depth 5: 5 batch norms
    for held, recalibrated in Probe.seen:
        for a, b in zip(held, recalibrated):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_efficient_spaces_mixed_precision_is_float32_where_bfloat16_is_emulated(monkeypatch):
    from keras_fer import devices
    from tuning.spaces import get_space

    base = get_space("efficient").base({"epochs": 2})
    hm = FERHyperModel(base, num_classes=7, space="efficient")
    monkeypatch.setattr(devices, "bfloat16_native", lambda: True)
    assert hm.config_for(kt.HyperParameters()).mixed_precision is True  # the space fixes it on
    assert hm.precision_note is None
    monkeypatch.setattr(devices, "bfloat16_native", lambda: False)
    # the note is there before any trial was configured (a search without a budget probes none)
    assert hm.precision_note.startswith("note: training in float32, not mixed bfloat16")
    assert hm.config_for(kt.HyperParameters()).mixed_precision is False
    assert FERHyperModel(base.replace(mixed_precision=False), num_classes=7).precision_note is None
