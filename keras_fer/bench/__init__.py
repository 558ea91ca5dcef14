"""Training throughput benchmark (``python -m keras_fer.bench``, ``make bench``).

``run_case(model, augment, precision, images, labels, epochs=2, steps=None, batch_size=128)``
returns one result dict (img/s over the epochs after the first, compiling one) measured on the
trainer's own step (``keras_fer.train.build_training_model``).
"""
from keras_fer.bench.core import KEYS, PRECISIONS, full_augment, overheads, run_case, synthetic

__all__ = ["KEYS", "PRECISIONS", "full_augment", "overheads", "run_case", "synthetic"]
