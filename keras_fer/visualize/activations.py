"""What a model computes inside: intermediate activations, conv filters, DACL attention weights.

Example:
    >>> acts = layer_outputs(model, images, ["conv1", "conv2"])   # {"conv1": (N, h, w, c), ...}
    >>> w = conv_filters(model, "conv1")                         # (out, kh, kw), first input channel
"""
from __future__ import annotations

import numpy as np

from keras_fer.errors import UserError
from keras_fer.visualize.explain import get_layer

ATTENTION_LAYER = "attention_weights"  # DACL: keras_fer.models.dacl.apply_attention_network
ATTENTION_HINTS = ("attention",)  # else: a layer whose name contains this, output (N, K)


def layer_outputs(model, images, names, batch_size=64):
    """Outputs of the named top-level layers for ``images`` (float32 model inputs).

    Returns:
        dict name -> np.ndarray (N, ...), in the order of ``names``.
    """
    import keras

    layers = [get_layer(model, n) for n in names]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outs = probe.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
    if len(layers) == 1:
        outs = [outs]
    return {n: np.asarray(o) for n, o in zip(names, outs)}


def conv_filters(model, name):
    """Kernels of a conv layer as images: (filters, kh, kw), first input channel.

    A depthwise kernel (kh, kw, in, mult) is shown per input channel.
    """
    layer = get_layer(model, name)
    weights = layer.get_weights()
    if not weights or np.ndim(weights[0]) != 4:
        raise UserError(f"--layer {name!r}: not a conv layer with 2-D kernels "
                        f"({type(layer).__name__})")
    kernel = np.asarray(weights[0])  # (kh, kw, in, out)
    if type(layer).__name__ == "DepthwiseConv2D":
        return np.transpose(kernel[:, :, :, 0], (2, 0, 1))
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1))


def attention_layer(model):
    """Name of the layer that outputs DACL's attention weights, or None if the model has none.

    DACL (keras_fer.models.dacl) ends its attention network in the layer ``"attention_weights"``,
    output (N, C): one weight per feature-map channel. That name is preferred; otherwise the
    last top-level layer whose name contains "attention" and whose output is rank 2.
    """
    found = []
    for layer in model.layers:
        if any(h in layer.name for h in ATTENTION_HINTS):
            try:
                rank = len(layer.output.shape)
            except (AttributeError, ValueError):
                continue
            if rank == 2:
                found.append(layer.name)
    exact = [n for n in found if n.endswith(ATTENTION_LAYER)]
    return (exact or found or [None])[-1]


def first_maps_grid(acts, n):
    """The first ``n`` maps of one image's activation (h, w, c), each min-max normalised."""
    maps = np.moveaxis(np.asarray(acts)[..., :n], -1, 0).astype(np.float32)
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    return (maps - lo) / np.maximum(hi - lo, 1e-8)
