"""The KerasTuner ``HyperModel`` over one search space (``tuning.spaces``).

Every trial is a :class:`keras_fer.config.TrainConfig` (the base config with the sampled values
applied, see :meth:`FERHyperModel.config_for`); the model is built by ``keras_fer.train.build_net``
and compiled by ``keras_fer.train.build_training_model``, and trained by plain ``model.fit``:
the same model, optimizer (EMA included), schedule, loss and augmentation that
``python -m keras_fer.train`` would use for that config, so the best trial can be retrained as is
with ``keras_fer.train.run``.
"""
from __future__ import annotations

import keras_tuner

from keras_fer.config import TrainConfig
from keras_fer.devices import native_precision
from tuning.options import OBJECTIVES
from tuning.spaces import (
    AUGMENT_LEVELS,
    MODEL_NAME,
    config_from_values,
    declare,
    get_space,
    model_definition,
    steps_per_epoch,
)

# training images a trial's EMA recalibrates its batch norms on at each epoch's end (make
# train's 4,096 cost about 3 s an epoch here, a fifth of an 8,000-image trial's epoch)
TRIAL_CALIBRATION = 1024

__all__ = ["FERHyperModel", "OBJECTIVES", "AUGMENT_LEVELS", "MODEL_NAME", "config_from_values",
           "declare", "model_definition"]


class FERHyperModel(keras_tuner.HyperModel):
    """One search space (architecture and training recipe) as a KerasTuner HyperModel.

    ``build`` makes the trial's network (``keras_fer.train.build_net``) and compiles it with
    ``keras_fer.train.build_training_model`` (optimizer with its EMA, learning-rate schedule,
    loss, augmentation of the trial's config); ``fit`` is one ``model.fit`` with the callbacks
    of the trial's config (a metric-driven schedule's, the EMA swap's, the alternate
    augmentation's), as ``python -m keras_fer.train`` would run it. Both derive what they need
    from ``hp``: nothing passes from ``build`` to ``fit`` through the instance.

    Args:
        base: the ``TrainConfig`` every trial starts from (data, batch size, epochs...); the
            space sets what it tunes (``tuning.spaces``).
        num_classes: number of output classes (>= 2).
        train_labels: the training labels (int array): the class-weighted loss, the per-step
            schedules and the EMA's length need them; None when none is used.
        space: a ``tuning.spaces`` name ("blockcnn", "efficient") or ``Space``.

    Example:
        >>> hm = FERHyperModel(TrainConfig(epochs=2), num_classes=7, train_labels=y, space="efficient")
        >>> model = hm.build(keras_tuner.HyperParameters())  # the defaults, compiled
        >>> hm.fit(hp, model, (x[..., None], y), y, validation_data=((vx[..., None], vy), vy))
    """

    def __init__(self, base: TrainConfig, num_classes: int = 7, train_labels=None,
                 space="blockcnn", **kwargs):
        if not isinstance(base, TrainConfig):
            raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if train_labels is not None and len(train_labels) == 0:
            raise ValueError("train_labels is empty")
        self.space = get_space(space)
        super().__init__(name=kwargs.pop("name", f"fer_{self.space.name}"), **kwargs)
        self.base = base
        self.num_classes = num_classes
        self.train_labels = train_labels

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def steps_per_epoch(self) -> int:
        n = len(self.train_labels) if self.train_labels is not None else self.base.batch_size
        return steps_per_epoch(n, self.base.batch_size)

    def config_for(self, hp, epochs=None) -> TrainConfig:
        """The TrainConfig of hyperparameters ``hp`` over ``epochs`` (default the base's: the
        best's retraining); a trial's is ``config_for(hp, trial_epochs(hp))``."""
        base = self.base if epochs is None else self.base.replace(epochs=int(epochs))
        # a space that fixes mixed precision on gets float32 where bfloat16 would be emulated
        return native_precision(self._asked(base, hp))[0]

    @property
    def precision_note(self):
        """The one-line note when the space's trials (at its defaults) ask for mixed precision
        where bfloat16 would be emulated, and so train in float32; else None."""
        return native_precision(self._asked(self.base, keras_tuner.HyperParameters()))[1]

    def _asked(self, base, hp) -> TrainConfig:
        """``base`` with ``hp``'s values applied, before ``native_precision``."""
        return self.space.apply(base, self.space.declare(hp), self.steps_per_epoch())

    def trial_epochs(self, hp) -> int:
        """Epochs this trial's ``fit`` runs. A Hyperband trial that continues an earlier one gets
        its weights but a new optimizer (KerasTuner reloads weights only), so its schedule and
        EMA span its own epochs (``tuner/epochs - tuner/initial_epoch``), not the search's most:
        a 2-epoch trial of a 30-epoch cosine would validate in warm-up, with an EMA of 0.999
        that still holds mostly the initial weights."""
        values = hp.values
        if "tuner/epochs" in values:
            return max(1, int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0)))
        return self.base.epochs

    def make_schedule(self, cfg) -> tuple:
        """``(learning_rate, callback or None)`` of a trial's config ``cfg``
        (``keras_fer.train.make_schedule``): ``build`` gives the optimizer the rate, ``fit``
        runs a new callback of the metric-driven schedules."""
        from keras_fer.train import base_learning_rate, make_schedule

        return make_schedule(cfg.schedule, base_learning_rate(cfg.optimizer), cfg.epochs,
                             self.steps_per_epoch(), cfg.monitor)

    def build(self, hp):
        from keras_fer.train import build_net, build_optimizer, build_training_model

        cfg = self.config_for(hp, self.trial_epochs(hp))
        net = build_net(cfg, self.num_classes)
        lr, _ = self.make_schedule(cfg)
        return build_training_model(net, cfg, optimizer=build_optimizer(cfg.optimizer, lr, cfg.ema),
                                    train_labels=self.train_labels)

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        """``model.fit(*args, **kwargs)`` with KerasTuner's callbacks and the trainer's (those
        of ``hp``'s config: ``model`` may come from another ``build``)."""
        import keras

        callbacks = list(callbacks or [])
        cfg = self.config_for(hp, self.trial_epochs(hp))
        _, schedule = self.make_schedule(cfg)
        if schedule is not None:
            callbacks.insert(0, schedule)
        from keras_fer.train import ema_swap

        # ((images, labels), labels) as the search passes them; ``args`` may be empty (a spy)
        data = args[0] if args and isinstance(args[0], tuple) else None
        swap = ema_swap(model.net, data[0], cfg, TRIAL_CALIBRATION) if data else None
        if swap is not None:  # first: validation and KerasTuner's best-epoch checkpoint see the
            callbacks.insert(0, swap)  # average, with its own batch-norm statistics
        if model.augment is not None and model.augment.alternate:
            from keras_fer.augment import AugmentEpoch

            callbacks.append(AugmentEpoch(model.augment))
        kwargs.setdefault("batch_size", self.base.batch_size)
        if data:  # the optimizer built before fit: one trace of the step, not two
            model.build_state(*data)
        if keras.backend.backend() == "tensorflow" and len(args) == 2:
            # arrays as the trainer feeds them (Keras' autotuned pipeline stalls between epochs)
            from keras_fer.devices import tf_fit_args

            epochs = (kwargs.get("initial_epoch", 0), kwargs.get("epochs", 1))
            kwargs.update(tf_fit_args(*args, kwargs.pop("batch_size"), self.base.seed, epochs,
                                      kwargs.pop("validation_data", None),
                                      kwargs.pop("validation_batch_size", None)))
            args = ()
        # one line per epoch: a progress bar would overwrite the search's ETA line
        kwargs.setdefault("verbose", 2 if self.base.verbose else 0)
        return model.fit(*args, callbacks=callbacks, **kwargs)
