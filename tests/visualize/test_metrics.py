"""The faithfulness metrics (pure NumPy) against values computed by hand."""
import numpy as np
import pytest

from keras_fer.visualize import metrics


def test_constant_maps():
    maps = np.array([np.zeros((2, 2)), np.full((2, 2), 3.0), [[1, 1], [1, 1 + 1e-9]],
                     [[0, 1], [0, 0]], [[-2, -2], [-2, -1]]])
    np.testing.assert_array_equal(metrics.is_constant(maps), [True, True, True, False, False])


def test_rank_correlation_hand_computed():
    a = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 2, 3], [1, 2, 3, 4]], float).reshape(4, 2, 2)
    b = np.array([[2, 4, 6, 8], [8, 6, 4, 2], [1, 3, 2, 4], [5, 5, 5, 5]], float).reshape(4, 2, 2)
    rho = metrics.rank_correlation(a, b)
    # row 3: ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4); centred (-1.5, 0, 0, 1.5), (-1.5, .5, -.5,
    # 1.5): 4.5 / sqrt(4.5 * 5)
    np.testing.assert_allclose(rho[:3], [1.0, -1.0, 4.5 / np.sqrt(4.5 * 5)])
    assert np.isnan(rho[3])  # a constant map has no ranking


def test_deletion_order_most_salient_first_ties_random_but_seeded():
    order = metrics.deletion_order(np.array([[[3, 1], [2, 0]]]))
    np.testing.assert_array_equal(order, [[0, 2, 1, 3]])
    flat = metrics.deletion_order(np.zeros((1, 4, 4)), seed=1)
    assert sorted(flat[0]) == list(range(16)) and list(flat[0]) != list(range(16))
    np.testing.assert_array_equal(flat, metrics.deletion_order(np.zeros((1, 4, 4)), seed=1))
    rnd = metrics.random_order(3, 16, seed=2)
    assert rnd.shape == (3, 16) and all(sorted(r) == list(range(16)) for r in rnd)


def test_deletion_curves_and_auc_hand_computed():
    # p(class 0) = sum of pixels / 10: image 0 holds 1, 2, 3, 4 (sum 10), image 1 twice that
    x = np.array([[1, 2, 3, 4], [2, 4, 6, 8]], np.float32).reshape(2, 2, 2, 1)
    calls = []

    def predict(batch):
        calls.append(len(batch))
        s = batch.reshape(len(batch), -1).sum(axis=1) / 10
        return np.stack([s, 1 - s], axis=1)

    order = np.array([[3, 2, 1, 0], [0, 1, 2, 3]])
    curves = metrics.deletion_curves(predict, x, [0, 1], order, steps=2, batch_size=3)
    # image 0, class 0: nothing removed 1.0; pixels 3, 2 (4 + 3) gone: 0.3; all gone: 0
    # image 1, class 1: 1 - 2.0 = -1; pixels 0, 1 (2 + 4) gone: 1 - 1.4; all gone: 1
    np.testing.assert_allclose(curves, [[1.0, 0.3, 0.0], [-1.0, -0.4, 1.0]], atol=1e-6)
    assert calls == [3, 3]  # batch_size 3 holds one image's 3 steps
    np.testing.assert_allclose(metrics.auc(curves), [(1.3 / 2 + 0.3 / 2) / 2, (-1.4 / 2 + 0.6 / 2) / 2])
    np.testing.assert_allclose(metrics.auc([[1, 1, 1], [1, 0, 0]]), [1.0, 0.25])
    filled = metrics.deletion_curves(predict, x[:1], [0], order[:1], steps=4, fill=1.0)
    np.testing.assert_allclose(filled, [[1.0, 0.7, 0.5, 0.4, 0.4]], atol=1e-6)


@pytest.mark.parametrize("fill", [0.0, 5.0])
def test_deletion_of_the_only_pixel_that_matters_beats_random(fill):
    # a "model" that reads pixel 0 only: deleting it first drops the curve at once
    x = np.full((4, 3, 3, 1), 9.0, np.float32)

    def predict(batch):
        p = (batch[:, 0, 0, 0] == 9.0).astype(float)
        return np.stack([p, 1 - p], axis=1)

    best = np.zeros((4, 9))
    best[:, 0] = 1
    smart = metrics.auc(metrics.deletion_curves(predict, x, [0] * 4, metrics.deletion_order(best), 3, fill))
    rand = metrics.auc(metrics.deletion_curves(predict, x, [0] * 4, metrics.random_order(4, 9), 3, fill))
    np.testing.assert_allclose(smart, 1 / 6)  # curve 1, 0, 0, 0
    assert (rand >= smart).all() and rand.mean() > smart.mean()


def test_gaussian_blur_hand_computed():
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 1.0
    a, e2 = np.exp(-0.5), np.exp(-2.0)
    out = metrics.gaussian_blur(x, 1.0)[0, ..., 0]
    # centre row weights (a, 1, a) / (1 + 2a); border row weights (1, a, e^-2) / (1 + a + e^-2)
    assert out[1, 1] == pytest.approx(1 / (1 + 2 * a) ** 2)
    assert out[0, 0] == pytest.approx((a / (1 + a + e2)) ** 2)
    assert out[0, 1] == pytest.approx(a / (1 + a + e2) / (1 + 2 * a))
    np.testing.assert_allclose(metrics.gaussian_blur(np.full((2, 5, 4, 1), 7.0), 2.0), 7.0)
