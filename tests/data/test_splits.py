"""Split helpers and class balance: exact numbers against hand counts / scikit-learn."""
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from keras_fer.data import (
    FERData,
    balanced_batches,
    class_weights,
    drop_classes,
    oversample,
    stratified_kfold,
    stratified_split,
    stratified_subset,
)
from keras_fer.errors import UserError

# 7 classes with FER-like imbalance: 10, 5, 20, 1, 8, 6, 50 images
COUNTS = [10, 5, 20, 1, 8, 6, 50]
LABELS = np.random.default_rng(0).permutation(np.repeat(np.arange(7), COUNTS))


def test_stratified_split_exact():
    tr, va = stratified_split(LABELS, 0.2, seed=0)
    assert np.bincount(LABELS[va], minlength=7).tolist() == [2, 1, 4, 0, 2, 1, 10]
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(len(LABELS)))
    assert tr.tolist() == sorted(tr.tolist()) and len(set(tr) & set(va)) == 0
    tr2, va2 = stratified_split(LABELS, 0.2, seed=0)
    assert va2.tolist() == va.tolist()
    assert stratified_split(LABELS, 0.2, seed=1)[1].tolist() != va.tolist()
    with pytest.raises(UserError, match="val_fraction must be in"):
        stratified_split(LABELS, 1.0)


def test_stratified_kfold_covers_everything_once():
    labels = np.repeat(np.arange(7), [10, 5, 20, 6, 8, 6, 50])
    folds = stratified_kfold(labels, k=5, seed=0)
    assert len(folds) == 5
    val = np.concatenate([va for _, va in folds])
    assert sorted(val.tolist()) == list(range(len(labels)))
    for tr, va in folds:
        assert len(set(tr) & set(va)) == 0 and len(tr) + len(va) == len(labels)
        per_class = np.bincount(labels[va], minlength=7)
        assert np.all(np.abs(per_class - np.array([10, 5, 20, 6, 8, 6, 50]) / 5) < 1)
    with pytest.raises(UserError, match="k-fold needs"):
        stratified_kfold(labels, k=1)


def test_stratified_subset_exact_and_all_classes():
    for n in (7, 8, 13, 50, 99):
        idx = stratified_subset(LABELS, n, seed=0)
        assert len(idx) == len(set(idx.tolist())) == n
        assert set(LABELS[idx].tolist()) == set(range(7))
    assert np.bincount(LABELS[stratified_subset(LABELS, 50)], minlength=7).tolist() == [5, 2, 10, 1, 4, 3, 25]
    assert len(stratified_subset(LABELS, 3)) == 3
    assert stratified_subset(LABELS, 1000).tolist() == list(range(100))
    with pytest.raises(UserError):
        stratified_subset(LABELS, 0)


def test_drop_classes_reindexes():
    data = FERData(np.arange(7)[:, None, None] * np.ones((1, 48, 48), np.uint8), np.arange(7),
                   ["Training"] * 7, paths=[f"f{i}" for i in range(7)])
    out = drop_classes(data, ["disgust", "Fearful"])
    assert out.classes == ("angry", "happy", "sad", "surprise", "neutral")
    assert out.labels.tolist() == [0, 1, 2, 3, 4]
    assert out.paths.tolist() == ["f0", "f3", "f4", "f5", "f6"]
    assert out.images[:, 0, 0].tolist() == [0, 3, 4, 5, 6]
    with pytest.raises(UserError, match="unknown class 'smug'"):
        drop_classes(data, ["smug"])


def test_class_weights_match_sklearn():
    w = class_weights(LABELS, 7)
    ref = compute_class_weight("balanced", classes=np.arange(7), y=LABELS)
    np.testing.assert_allclose([w[c] for c in range(7)], ref)
    assert w[6] == pytest.approx(100 / (7 * 50))
    assert class_weights([0, 0, 1], 3)[2] == 0.0


def test_oversample_mirrored_and_rotated_copies():
    images = np.random.default_rng(0).integers(0, 256, (12, 48, 48), dtype=np.uint8)
    labels = np.array([0] * 9 + [1] * 3)
    x, y = oversample(images, labels, "disgust", 3, seed=0, max_angle=0.0)
    assert x.shape == (18, 48, 48) and np.bincount(y).tolist() == [9, 9]
    np.testing.assert_array_equal(x[:12], images)
    sources = images[9:]
    mirrored = {s[:, ::-1].tobytes() for s in sources}
    assert {c.tobytes() for c in x[12:15]} == mirrored  # first round: mirrored (angle 0)
    assert {c.tobytes() for c in x[15:18]} == {s.tobytes() for s in sources}  # second: not mirrored
    xr, yr = oversample(images, labels, 1, 2.0, seed=0)
    assert len(xr) == 15 and not any(np.array_equal(c, s[:, ::-1]) for c in xr[12:] for s in sources)
    with pytest.raises(UserError, match="factor must be >= 1"):
        oversample(images, labels, 1, 0.5)


def test_balanced_batches():
    batches = list(balanced_batches(LABELS, 14, seed=0))
    assert len(batches) == 8  # ceil(100 / 14)
    for b in batches:
        assert len(b) == 14 and np.bincount(LABELS[b], minlength=7).tolist() == [2] * 7
    seen = np.concatenate(batches)[LABELS[np.concatenate(batches)] == 6]
    assert len(set(seen.tolist())) == 16  # class 6 (50 images) drawn without replacement
    odd = list(balanced_batches(LABELS, 10, seed=1, num_batches=3))
    assert [len(b) for b in odd] == [10, 10, 10]
    assert all(np.bincount(LABELS[b], minlength=7).min() >= 1 for b in odd)
