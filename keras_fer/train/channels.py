"""Start a network from a run of the same chain at another width (``init_layers`` "channels").

A plain chain of Conv2D, BatchNormalization and Dense layers (VGG; pooling, activations and
global average pooling in between carry channels through unchanged) is mapped layer by layer,
in order, each output channel of the new network taken from one channel of the source:

- **narrower** (a student pruned from a trained run): the channels whose following batch
  normalization has the largest ``|gamma|`` are kept (network slimming, Liu et al. 2017), in
  their order, and the next layer keeps the weights reading them;
- **wider** (Net2WiderNet, Chen et al. 2016): every source channel is kept and the extra ones
  copy source channels drawn at random; the next layer's weights reading a channel and its
  copies are split between them with random positive shares summing to one, so the wider
  network computes the same function in inference mode while its copies, reading different
  shares, take different gradients (equal halves would keep them identical for ever).
"""
from __future__ import annotations

import numpy as np

from keras_fer.errors import UserError

MAPPED = ("Conv2D", "Dense", "BatchNormalization")


def weighted_layers(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def choose_channels(importance, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(sources, shares)`` for ``size`` output channels taken from ``len(importance)``:
    ``sources[j]`` is the source channel of channel j, ``shares[j]`` the part of that source
    channel's outgoing weights that channel j carries (1 where it has no copy)."""
    have = len(importance)
    if size <= have:  # the most important, in their original order
        return np.sort(np.argsort(-np.abs(importance), kind="stable")[:size]), np.ones(size)
    sources = np.concatenate([np.arange(have), rng.integers(0, have, size - have)])
    draws = rng.uniform(0.5, 1.5, size)
    totals = np.bincount(sources, weights=draws, minlength=have)
    return sources, draws / totals[sources]


def _importance(layers, i, theirs):
    """A convolution's output channels ranked by the ``|gamma|`` of the batch normalization
    that follows it, else by the L1 norm of their kernels."""
    if i + 1 < len(layers) and type(layers[i + 1][1]).__name__ == "BatchNormalization" \
            and layers[i + 1][1].scale:
        return np.asarray(layers[i + 1][1].gamma.numpy(), "float64")
    kernel = theirs[0]
    return np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)


def transfer_channels(net, source, seed: int = 0, origin: str = "source") -> str:
    """Set ``net``'s weights from ``source``, a model of the same chain of Conv2D,
    BatchNormalization and Dense layers at other widths (see the module docstring); a line
    saying what was done. A UserError names the first layer that cannot be mapped."""
    mine_layers, their_layers = weighted_layers(net), weighted_layers(source)
    kinds = [type(layer).__name__ for layer in mine_layers]
    if kinds != [type(layer).__name__ for layer in their_layers]:
        raise UserError(f"{origin}: init_layers channels needs a run of the same chain of "
                        f"layers at another width: this model has {len(kinds)} layers with "
                        f"weights, it has {len(their_layers)} (or of other kinds)")
    rng = np.random.default_rng(seed)
    pairs = list(zip(mine_layers, their_layers))
    sources = shares = None  # this layer's input channels: source channel and share of each
    width = 0  # how many channels the source gives at this point
    narrowed = widened = 0
    for i, (mine, theirs) in enumerate(pairs):
        kind = type(theirs).__name__
        if kind not in MAPPED:
            raise UserError(f"{origin}: init_layers channels maps Conv2D, BatchNormalization "
                            f"and Dense layers; {theirs.name} is a {kind}")
        weights = [np.asarray(w) for w in theirs.get_weights()]
        if kind == "BatchNormalization":  # per channel: follows the convolution before it
            if sources is not None:
                weights = [w[sources] for w in weights]
        else:
            kernel = weights[0]
            if sources is not None:
                if kernel.shape[-2] != width:
                    raise UserError(f"{origin}: init_layers channels: {theirs.name} reads "
                                    f"{kernel.shape[-2]} inputs where {width} channels come "
                                    "(only channel-wise layers may lie between)")
                kernel = np.take(kernel, sources, axis=-2) * shares[:, None].astype(kernel.dtype)
            size, width = int(mine.weights[0].shape[-1]), kernel.shape[-1]
            if size == width:
                sources = shares = None
            else:
                sources, shares = choose_channels(_importance(pairs, i, weights), size, rng)
                narrowed, widened = narrowed + (size < width), widened + (size > width)
                kernel = kernel[..., sources]
            weights = [kernel] + [w if sources is None else w[sources] for w in weights[1:]]
        wanted = [tuple(w.shape) for w in mine.weights]
        if [w.shape for w in weights] != wanted:
            raise UserError(f"{origin}: init_layers channels: {theirs.name}'s weights map to "
                            f"shapes {[w.shape for w in weights]}, {mine.name} has {wanted}")
        mine.set_weights(weights)
    if sources is not None:
        raise UserError(f"{origin}: init_layers channels: the last layer, {pairs[-1][1].name}, "
                        "would change its outputs (the classes must be the same)")
    return (f"init_from {origin}: {len(pairs)} layers mapped by channel; {narrowed} layers "
            f"narrowed (channels of largest |gamma| kept), {widened} widened (channels copied, "
            "function kept)")
