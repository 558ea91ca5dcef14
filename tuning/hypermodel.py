"""The search space: a ``keras_tuner.HyperModel`` over block-CNNs and their training recipe.

Every trial is a :class:`keras_fer.config.TrainConfig` (the base config with the sampled values
applied, see :meth:`FERHyperModel.config_for`); the model is built by ``keras_fer.train.build_net``
and compiled by ``keras_fer.train.build_training_model``, and trained by plain ``model.fit``:
the same model, optimizer, schedule, loss and augmentation that ``python -m keras_fer.train`` would use
for that config, so the best trial can be retrained as is with ``keras_fer.train.run``.
"""
from __future__ import annotations

import math

import keras_tuner

from keras_fer.config import TrainConfig

# The registered block CNN whose blocks/head the search replaces (keras_fer.models.blockcnn).
MODEL_NAME = "baseline"
NORMS = ("none", "batch", "instance")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
KERNELS = (3, 5, 7)
WIDTHS = (16, 32, 48, 64)
# Augmentation strength -> keras_fer.augment config (flip, small affine jitter, brightness).
AUGMENT_LEVELS = {
    "none": {},
    "light": {"flip": True, "rotation": 5, "translate": 0.05},
    "medium": {"flip": True, "rotation": 10, "translate": 0.1, "scale": 0.1},
    "strong": {"flip": True, "rotation": 15, "translate": 0.15, "scale": 0.2,
               "brightness": 0.2, "contrast": 0.2},
}
OBJECTIVES = ("val_macro_f1", "val_accuracy")


def declare(hp) -> dict:
    """Declare (or read) every hyperparameter of the search; returns their values by name."""
    return {
        "depth": hp.Int("depth", 4, 8, default=5),
        "width": hp.Choice("width", list(WIDTHS), default=32),
        "kernel1": hp.Choice("kernel1", list(KERNELS), default=3),
        "kernel2": hp.Choice("kernel2", list(KERNELS), default=3),
        "norm": hp.Choice("norm", list(NORMS), default="batch"),
        "optimizer": hp.Choice("optimizer", list(OPTIMIZERS), default="adam"),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3),
        "weight_decay": hp.Float("weight_decay", 1e-6, 1e-2, sampling="log", default=1e-4),
        "dropout": hp.Float("dropout", 0.0, 0.6, step=0.1, default=0.3),
        "augment": hp.Choice("augment", list(AUGMENT_LEVELS), default="light"),
    }


def model_definition(values: dict) -> dict:
    """The block-CNN definition (keras_fer.models.blockcnn) of ``depth`` conv layers.

    As in the FER2013 ablation study the space is built around: two blocks of two convs
    (``width``, then ``2 * width`` filters; the first two kernels ``kernel1``/``kernel2``), then
    one block of ``depth - 4`` convs (``4 * width``, the last ``8 * width``), each block
    max-pooled; head: adaptive pool to 5x5, dense 64, ``dropout``. depth 7 at width 32 is the
    study's 7-layer model.
    """
    depth, width, norm = int(values["depth"]), int(values["width"]), str(values["norm"])
    blocks = [{"filters": [width, width], "kernel_size": [int(values["kernel1"]), int(values["kernel2"])],
               "norm": norm, "pool": "max"},
              {"filters": [2 * width, 2 * width], "kernel_size": 3, "norm": norm, "pool": "max"}]
    if depth > 4:
        filters = [4 * width] * (depth - 5) + [8 * width]
        blocks.append({"filters": filters, "kernel_size": 3, "norm": norm, "pool": "max"})
    # no "name": registry entrypoints take it as create_model's own first argument
    return {"blocks": blocks,
            "head": {"pool_grid": 5, "dense": [64], "dropout": float(values["dropout"])}}


def config_from_values(base: TrainConfig, values: dict) -> TrainConfig:
    """The TrainConfig of one point of the search space (``values`` as returned by ``declare``):
    the registered block CNN ``baseline`` with its blocks/head replaced through ``model_args``."""
    optimizer = {"name": str(values["optimizer"]), "learning_rate": float(values["learning_rate"]),
                 "weight_decay": float(values["weight_decay"])}
    if optimizer["name"] == "sgd":
        optimizer.update(momentum=0.9, nesterov=True)
    return base.replace(model=MODEL_NAME, model_args=model_definition(values), optimizer=optimizer,
                        augment=dict(AUGMENT_LEVELS[str(values["augment"])]))


class FERHyperModel(keras_tuner.HyperModel):
    """Block-CNN architecture and training recipe as one KerasTuner search space.

    ``build`` makes the trial's network (``keras_fer.train.build_net``) and compiles it with
    ``keras_fer.train.build_training_model`` (optimizer, learning-rate schedule, loss,
    augmentation of the trial's config); ``fit`` is one ``model.fit`` with the schedule's and
    the alternate-augmentation callbacks, as ``python -m keras_fer.train`` would run it.

    Args:
        base: the ``TrainConfig`` every trial starts from (data, batch size, loss, schedule...);
            the search sets ``model``/``model_args``, ``optimizer`` and ``augment``.
        num_classes: number of output classes (>= 2).
        train_labels: the training labels (int array): the class-weighted loss and the
            per-step schedules need them; None when neither is used.

    Example:
        >>> hm = FERHyperModel(TrainConfig(epochs=2), num_classes=7, train_labels=y)
        >>> model = hm.build(keras_tuner.HyperParameters())  # the defaults, compiled
        >>> hm.fit(hp, model, (x[..., None], y), y, validation_data=((vx[..., None], vy), vy))
    """

    def __init__(self, base: TrainConfig, num_classes: int = 7, train_labels=None, **kwargs):
        if not isinstance(base, TrainConfig):
            raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if train_labels is not None and len(train_labels) == 0:
            raise ValueError("train_labels is empty")
        super().__init__(name=kwargs.pop("name", "fer_blockcnn"), **kwargs)
        self.base = base
        self.num_classes = num_classes
        self.train_labels = train_labels
        self._schedule = None

    def config_for(self, hp) -> TrainConfig:
        """The TrainConfig a trial with hyperparameters ``hp`` trains (and the best retrains)."""
        return config_from_values(self.base, declare(hp))

    def build(self, hp):
        from keras_fer.train import (base_learning_rate, build_net, build_optimizer,
                                     build_training_model, make_schedule)

        cfg = self.config_for(hp)
        net = build_net(cfg, self.num_classes)
        n = len(self.train_labels) if self.train_labels is not None else cfg.batch_size
        lr, self._schedule = make_schedule(cfg.schedule, base_learning_rate(cfg.optimizer),
                                           cfg.epochs, math.ceil(n / cfg.batch_size), cfg.monitor)
        return build_training_model(net, cfg, optimizer=build_optimizer(cfg.optimizer, lr),
                                    train_labels=self.train_labels)

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        """``model.fit(*args, **kwargs)`` with KerasTuner's callbacks and the trainer's."""
        callbacks = list(callbacks or [])
        if self._schedule is not None:
            callbacks.insert(0, self._schedule)
        if model.augment is not None and model.augment.alternate:
            from keras_fer.augment import AugmentEpoch

            callbacks.append(AugmentEpoch(model.augment))
        kwargs.setdefault("batch_size", self.base.batch_size)
        kwargs.setdefault("verbose", 0 if not self.base.verbose else (1 if self.base.verbose == 1 else 2))
        return model.fit(*args, callbacks=callbacks, **kwargs)
