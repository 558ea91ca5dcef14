"""Training throughput benchmark (``python -m keras_fer.bench``, ``make bench``).

``run_case(model, augment, precision, images, labels, epochs=2, steps=None, batch_size=128,
devices=1)`` returns one result dict (img/s over the epochs after the first, compiling one, in
all and per device) measured on the trainer's own step (``keras_fer.train.build_training_model``);
``scaling(results)`` the scaling efficiency from 1 to N devices.

The names are imported lazily so that ``python -m keras_fer.bench --help`` (and a bad option)
answers without importing Keras.
"""
import importlib

_EXPORTS = {
    "KEYS": "core", "PRECISIONS": "core", "full_augment": "core", "overheads": "core",
    "run_case": "core", "scaling": "core", "synthetic": "core",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"keras_fer.bench.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'keras_fer.bench' has no attribute {name!r}")
