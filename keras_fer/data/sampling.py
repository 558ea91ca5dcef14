"""Class balance: inverse-frequency weights, oversampling one class, a class-balanced sampler."""
from __future__ import annotations

import numpy as np

from keras_fer.data.classes import class_index
from keras_fer.emotions import EMOTIONS
from keras_fer.errors import UserError


def class_weights(labels, num_classes) -> dict:
    """{class: n_samples / (num_classes * count)} (scikit-learn's "balanced"); 0.0 for a class
    with no images.

    Example:
        >>> model.fit(x, y, class_weight=class_weights(y, 7))
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise UserError(f"labels must be in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    counts = np.bincount(labels, minlength=num_classes)
    return {c: (float(len(labels) / (num_classes * counts[c])) if counts[c] else 0.0)
            for c in range(num_classes)}


def oversample(images, labels, cls, factor, seed=0, *, max_angle=15.0, classes=EMOTIONS):
    """Append copies of class ``cls`` until it has ``round(count * factor)`` images.

    Copies are randomly rotated by up to ``max_angle`` degrees (PIL); every other round of
    copies is also mirrored left-right. ``cls`` is an index or a class name in ``classes``.
    Returns (images, labels) with the copies at the end.

    Example:
        >>> x, y = oversample(x, y, "disgust", 4)   # 436 disgust images -> 1744
    """
    from PIL import Image

    images, labels = np.asarray(images), np.asarray(labels)
    cls = class_index(cls, classes)
    if not float(factor) >= 1.0:
        raise UserError(f"oversample factor must be >= 1, got {factor}")
    idx = np.nonzero(labels == cls)[0]
    if len(idx) == 0:
        raise UserError(f"cannot oversample class {classes[cls]!r}: it has no images")
    n_new = int(round(len(idx) * float(factor))) - len(idx)
    rng = np.random.default_rng(seed)
    sources = np.resize(rng.permutation(idx), n_new)
    angles = rng.uniform(-max_angle, max_angle, n_new)
    copies = np.empty((n_new,) + images.shape[1:], images.dtype)
    for j, (src, angle) in enumerate(zip(sources, angles)):
        img = images[src].reshape(images.shape[1:3])
        if (j // len(idx)) % 2 == 0:
            img = img[:, ::-1]
        pil = Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8))
        fill = int(np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])))
        rotated = pil.rotate(float(angle), resample=Image.Resampling.BILINEAR, fillcolor=fill)
        copies[j] = np.asarray(rotated).reshape(images.shape[1:])
    return (np.concatenate([images, copies]),
            np.concatenate([labels, np.full(n_new, cls, dtype=labels.dtype)]))


def balanced_batches(labels, batch_size, seed=0, num_batches=None):
    """Yield index arrays of ``batch_size`` with the classes present equally represented
    (``batch_size // C`` each, the remainder to random classes), each class cycled through
    without replacement in a shuffled order. One epoch: ``ceil(N / batch_size)`` batches
    unless ``num_batches`` is given.

    Example:
        >>> for idx in balanced_batches(y, 64, seed=epoch):
        ...     model.train_on_batch(x[idx], y[idx])
    """
    labels = np.asarray(labels).reshape(-1)
    if int(batch_size) < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    pools = [np.nonzero(labels == c)[0] for c in np.unique(labels)]
    if not pools:
        return
    queues = [rng.permutation(p) for p in pools]
    if num_batches is None:
        num_batches = -(-len(labels) // int(batch_size))
    n_cls = len(pools)
    for _ in range(int(num_batches)):
        counts = np.full(n_cls, int(batch_size) // n_cls)
        counts[rng.choice(n_cls, int(batch_size) % n_cls, replace=False)] += 1
        batch = []
        for c, k in enumerate(counts):
            while len(queues[c]) < k:
                queues[c] = np.concatenate([queues[c], rng.permutation(pools[c])])
            batch.append(queues[c][:k])
            queues[c] = queues[c][k:]
        yield rng.permutation(np.concatenate(batch)).astype(np.int64)
