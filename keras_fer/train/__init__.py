"""Training: ``run(cfg, data=None) -> Path`` writes one run directory (keras_fer.rundir);
``build_training_model(model, cfg)`` is the compiled training wrapper (augment + model + aux
losses). ``python -m keras_fer.train`` is the command line (see ``keras_fer.train.cli``).

The names are imported lazily so that ``python -m keras_fer.train --help`` (and a bad option)
answers without importing Keras.

Example:
    >>> from keras_fer.config import TrainConfig
    >>> from keras_fer.train import run
    >>> run_dir = run(TrainConfig(model="baseline", epochs=10, limit=2000, out="runs/smoke"))
"""
from keras_fer.lazy import lazy_exports

_EXPORTS = {
    "run": "core", "build_training_model": "core", "build_net": "core", "check_labels": "core",
    "select_data": "core", "base_learning_rate": "optimizers",
    "TrainingFailed": "core", "TrainingModel": "wrapper", "build_optimizer": "optimizers",
    "make_schedule": "schedules", "lr_at_epoch": "schedules", "ema_swap": "ema",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
