"""Faithfulness metrics of saliency maps, in NumPy (no Keras): constant maps, the
model-randomization rank correlation (Adebayo et al. 2018) and the deletion curve (Petsiuk et
al. 2018).

Why not a library: Quantus (the maintained metrics toolkit) is LGPL-3, pulls OpenCV and
scikit-image, explains one image at a time, and randomizes a Keras model by permuting each
layer's weights rather than re-initialising them; the three metrics below are a few lines each
and run on whole batches.

Example:
    >>> is_constant(np.zeros((1, 4, 4)))
    array([ True])
    >>> rank_correlation(maps, random_maps)          # (N,) Spearman rho, NaN where undefined
    >>> order = deletion_order(maps, seed=0)         # (N, H*W) most salient pixel first
    >>> auc(deletion_curves(predict, x, classes, order, steps=10))
"""
from __future__ import annotations

import numpy as np

CONSTANT_TOLERANCE = 1e-6  # a map whose range is below this fraction of its largest |value|


def _flat(maps):
    maps = np.asarray(maps, np.float64)
    return maps.reshape(len(maps), -1)


def is_constant(maps):
    """(N,) bool: the map carries no ranking (all equal, or its range is below
    ``CONSTANT_TOLERANCE`` of its largest absolute value, e.g. Grad-CAM's all-zero map)."""
    m = _flat(maps)
    if m.shape[1] == 0:
        return np.ones(len(m), bool)
    span = m.max(axis=1) - m.min(axis=1)
    return span <= CONSTANT_TOLERANCE * np.abs(m).max(axis=1)


def _ranks(m):
    """Average ranks (1..P, ties share their mean rank) of each row, like scipy's rankdata."""
    out = np.empty_like(m)
    for i, row in enumerate(m):
        s = np.sort(row)
        out[i] = (np.searchsorted(s, row, "left") + np.searchsorted(s, row, "right") + 1) / 2
    return out


def rank_correlation(a, b):
    """Spearman rank correlation of each pair of maps ``a[i]``, ``b[i]`` (N, ...) -> (N,);
    NaN where either map is constant (no ranking to compare)."""
    ra, rb = _ranks(_flat(a)), _ranks(_flat(b))
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    rho = np.full(len(ra), np.nan)
    ok = ~(is_constant(a) | is_constant(b)) & (denom > 0)
    rho[ok] = (ra * rb).sum(axis=1)[ok] / denom[ok]
    return rho


def deletion_order(maps, seed=0):
    """(N, P) pixel indices of each flattened map, most salient first; ties (a flat Grad-CAM
    region, a constant map) in a seeded random order, so they cost what random deletion costs."""
    m = _flat(maps)
    tiebreak = np.random.default_rng(seed).random(m.shape)
    return np.stack([np.lexsort((t, -row)) for t, row in zip(tiebreak, m)])


def random_order(n, pixels, seed=0):
    """(n, pixels): a seeded random permutation per image (the deletion baseline)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(pixels) for _ in range(n)])


def gaussian_blur(x, sigma):
    """(N, H, W, C) images blurred by a Gaussian of ``sigma`` pixels (weights renormalised at
    the borders), as two matrix products: no SciPy needed."""
    def kernel(n):
        d = np.arange(n)[:, None] - np.arange(n)[None]
        k = np.exp(-0.5 * (d / sigma) ** 2)
        return k / k.sum(axis=1, keepdims=True)

    x = np.asarray(x, np.float64)
    return np.einsum("ij,njkc,lk->nilc", kernel(x.shape[1]), x, kernel(x.shape[2]))


def deletion_curves(predict, x, classes, order, steps=10, fill=0.0, batch_size=256):
    """Petsiuk et al.'s deletion: the probability of ``classes[i]`` as the pixels of image i are
    replaced by ``fill`` in ``order``, ``steps`` equal chunks at a time.

    Args:
        predict: images (B, H, W, C) float32 -> class probabilities (B, K).
        x: (N, H, W, C) images; ``order``: (N, H*W) pixel indices, removed first to last
            (every channel of a pixel at once).
        steps: number of chunks; the curve has ``steps + 1`` points, from 0 to all removed.
        fill: a value, or images like ``x`` whose pixels replace the removed ones (a blurred
            copy: ``gaussian_blur(x, sigma)``).

    Returns:
        (N, steps + 1) probabilities.
    """
    x = np.asarray(x, np.float32)
    n, h, w, c = x.shape
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(int)
    # rank[i, p]: when pixel p of image i goes; pixel p is gone at step k when rank < counts[k]
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None], axis=1)
    fill = np.broadcast_to(np.asarray(fill, np.float32), x.shape)
    probs = np.empty((n, steps + 1))
    per = max(batch_size // (steps + 1), 1)  # images per predict call, all their steps at once
    for s in range(0, n, per):
        r = rank[s:s + per].reshape(-1, 1, h, w, 1)
        gone = r < counts[None, :, None, None, None]  # (b, steps + 1, h, w, 1)
        batch = np.where(gone, fill[s:s + per, None], x[s:s + per, None]).reshape(-1, h, w, c)
        p = np.asarray(predict(batch)).reshape(len(r), steps + 1, -1)
        probs[s:s + per] = np.take_along_axis(p, np.asarray(classes)[s:s + per, None, None],
                                              axis=2)[..., 0]
    return probs


def auc(curves):
    """Area under each curve (N, K + 1) sampled at equal steps over [0, 1] (trapezoid) -> (N,)."""
    c = np.asarray(curves, np.float64)
    return (c[:, 1:] + c[:, :-1]).sum(axis=1) / (2 * (c.shape[1] - 1))
