"""Training throughput benchmark (``python -m keras_fer.bench``, ``make bench``).

``run_case(model, augment, precision, images, labels, epochs=2, steps=None, batch_size=128,
devices=1)`` returns one result dict (img/s over the epochs after the first, compiling one, in
all and per device) measured on the trainer's own step (``keras_fer.train.build_training_model``);
``scaling(results)`` the scaling efficiency from 1 to N devices.

The names are imported lazily so that ``python -m keras_fer.bench --help`` (and a bad option)
answers without importing Keras.
"""
from keras_fer.lazy import lazy_exports

_EXPORTS = {
    "KEYS": "core", "PRECISIONS": "core", "full_augment": "core", "overheads": "core",
    "run_case": "core", "scaling": "core", "synthetic": "core",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
