"""Training throughput benchmark (``python -m keras_fer.bench``, ``make bench``).

``run_case(model, augment, precision, images, labels, epochs=2, steps=None, batch_size=128,
devices=1)`` returns one result dict (img/s over the epochs after the first, compiling one, in
all and per device) measured on the trainer's own step (``keras_fer.train.build_training_model``);
``scaling(results)`` the scaling efficiency from 1 to N devices.
"""
from keras_fer.bench.core import KEYS, PRECISIONS, full_augment, overheads, run_case, scaling, synthetic

__all__ = ["KEYS", "PRECISIONS", "full_augment", "overheads", "run_case", "scaling", "synthetic"]
