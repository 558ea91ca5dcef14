"""Stratified splits and subsets of label arrays, and dropping classes from a `FERData`."""
from __future__ import annotations

import numpy as np

from keras_fer.data.classes import absent_class, class_index
from keras_fer.data.core import FERData
from keras_fer.errors import UserError


def _by_class(labels):
    labels = np.asarray(labels).reshape(-1)
    return labels, [np.nonzero(labels == c)[0] for c in np.unique(labels)]


def stratified_split(labels, val_fraction=0.2, seed=0):
    """(train_idx, val_idx), sorted: ``round(count * val_fraction)`` of each class to validation.

    A class with at least 2 images keeps at least one on each side; a class with 1 stays in
    train. Deterministic for a given seed.

    Example:
        >>> train_idx, val_idx = stratified_split(y, 0.2, seed=0)   # 8:2
    """
    if not 0.0 < float(val_fraction) < 1.0:
        raise UserError(f"val_fraction must be in (0, 1), got {val_fraction}")
    labels, groups = _by_class(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for idx in groups:
        n_val = int(np.floor(len(idx) * val_fraction + 0.5))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        perm = rng.permutation(idx)
        val.append(perm[:n_val])
        train.append(perm[n_val:])
    return (np.sort(np.concatenate(train or [[]])).astype(np.int64),
            np.sort(np.concatenate(val or [[]])).astype(np.int64))


def stratified_kfold(labels, k=5, seed=0):
    """``k`` stratified folds: a list of (train_idx, val_idx); every index is in exactly one
    val_idx (scikit-learn's StratifiedKFold, shuffled with ``seed``)."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels).reshape(-1)
    if int(k) < 2 or int(k) > len(labels):
        raise UserError(f"k-fold needs 2 <= k <= {len(labels)} (the number of images), got {k}")
    folds = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=seed)
    return [(tr.astype(np.int64), va.astype(np.int64))
            for tr, va in folds.split(np.zeros(len(labels)), labels)]


def stratified_subset(labels, n, seed=0):
    """Exactly ``min(n, len(labels))`` sorted indices, classes in proportion (largest remainder),
    every class represented when ``n`` >= the number of classes present (for ``--limit``)."""
    labels, groups = _by_class(labels)
    n = int(n)
    if n < 1:
        raise UserError(f"subset size must be >= 1, got {n}")
    if n >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    counts = np.array([len(g) for g in groups])
    quota = n * counts / counts.sum()
    alloc = np.minimum(np.floor(quota).astype(int), counts)
    floor = 1 if n >= len(groups) else 0
    alloc = np.maximum(alloc, floor)
    while alloc.sum() < n:  # give to the class furthest below its quota that has room
        room = np.where(alloc < counts, quota - alloc, -np.inf)
        alloc[np.argmax(room)] += 1
    while alloc.sum() > n:  # take from the class furthest above its quota
        excess = np.where(alloc > floor, alloc - quota, -np.inf)
        alloc[np.argmax(excess)] -= 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(g)[:a] for g, a in zip(groups, alloc)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def drop_classes(data: FERData, names) -> FERData:
    """``data`` without the images of the classes ``names`` (names, synonyms or indices); the
    remaining classes are re-indexed 0..C'-1 in their original order. A known class that the
    data does not have (contempt in FER2013) drops nothing; an unknown name is a UserError."""
    drop = {class_index(name, data.classes) for name in names
            if not absent_class(name, data.classes)}
    if not drop:
        return data
    if len(drop) >= len(data.classes):
        raise UserError(f"cannot drop every class ({', '.join(map(str, names))})")
    kept = [i for i in range(len(data.classes)) if i not in drop]
    remap = np.full(len(data.classes), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    out = data.select(np.nonzero(~np.isin(data.labels, sorted(drop)))[0])
    out.labels = remap[out.labels]
    out.classes = tuple(data.classes[i] for i in kept)
    return out
