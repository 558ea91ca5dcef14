"""The model a SavedModel serves: batch norm folded into the convolution before it, computing in
float32 or, on request, in bfloat16.

At inference a batch-norm layer is a per-channel affine map, so a ``Conv2D -> BatchNormalization``
pair is one convolution with ``kernel * s`` and ``(bias - mean) * s + beta``, where
``s = gamma / sqrt(variance + epsilon)``. Keras computes batch norm as separate operations, and
TensorFlow's graph optimiser does not fold them (the weights are variables), so the folded model
does the same arithmetic in one pass over the activations less: measured 1.13x the img/s of
VGG13 x0.5 at batch 256 on the 2-core development CPU (2026-12-02), with probabilities within
2e-6 of the unfolded model's.

bfloat16 (``precision="bfloat16"``): every layer but the outputs computes under Keras'
``mixed_bfloat16`` policy (weights kept in float32, cast per call). On a CPU with AVX512_BF16 or
AMX this about doubles the img/s of a CNN; on one without, it is emulated in software and is
slower than float32 (7.8x in training on a Zen 2 EPYC, ``keras_fer.devices``), and rounding to
8 bits of mantissa decides some near-ties differently. So it is asked for by name, never the
default.

Example:
    >>> served = inference_model(rundir.load_model("saved_models/best"), "bfloat16")
"""
from __future__ import annotations

import numpy as np

PRECISIONS = ("float32", "bfloat16")


def _histories(node):
    """Every ``keras_history`` layer name inside a serialised config (the layers it reads)."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            yield node["config"]["keras_history"][0]
        for v in node.values():
            yield from _histories(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _histories(v)


def output_names(config) -> list:
    """The names of the layers whose outputs a functional model's serialised ``config`` returns
    (``output_layers`` is one ``[name, node, index]`` or a list of them)."""
    spec = config["output_layers"]
    return [spec[0]] if spec and isinstance(spec[0], str) else [s[0] for s in spec]


def foldable_pairs(config) -> dict:
    """``{batch-norm layer name: conv layer name}`` for every channels-last, linear ``Conv2D``
    whose only reader is a ``BatchNormalization`` over the last axis, called once, in a
    functional model's serialised ``config``."""
    layers = {entry["name"]: entry for entry in config["layers"]}
    readers = {}
    for entry in config["layers"]:
        for name in set(_histories(entry["inbound_nodes"])):
            readers[name] = readers.get(name, 0) + 1
    for name in output_names(config):
        readers[name] = readers.get(name, 0) + 1
    pairs = {}
    for entry in config["layers"]:
        if entry["class_name"] != "BatchNormalization" or len(entry["inbound_nodes"]) != 1:
            continue
        axis = entry["config"]["axis"]
        sources = list(_histories(entry["inbound_nodes"]))
        conv = layers.get(sources[0]) if len(sources) == 1 else None
        if (conv is None or conv["class_name"] != "Conv2D" or readers.get(conv["name"]) != 1
                or len(conv["inbound_nodes"]) != 1 or axis not in (-1, 3, [-1], [3])
                or conv["config"].get("data_format") not in (None, "channels_last")
                or conv["config"].get("activation") != "linear"):
            continue
        pairs[entry["name"]] = conv["name"]
    return pairs


def folded_weights(conv, bn) -> list:
    """``[kernel, bias]`` of the convolution that computes ``bn(conv(x))`` at inference."""
    weights = {w.path.split("/")[-1]: np.asarray(w.numpy(), "float64") for w in bn.weights}
    channels = conv.filters
    gamma = weights.get("gamma", np.ones(channels))
    beta = weights.get("beta", np.zeros(channels))
    s = gamma / np.sqrt(weights["moving_variance"] + bn.epsilon)
    kernel = np.asarray(conv.kernel.numpy(), "float64") * s
    bias = np.asarray(conv.bias.numpy(), "float64") if conv.use_bias else np.zeros(channels)
    bias = (bias - weights["moving_mean"]) * s + beta
    return [kernel.astype("float32"), bias.astype("float32")]


def _policy(entry, name):
    dtype = entry["config"].get("dtype")
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":
        entry["config"]["dtype"] = {**dtype, "config": {**dtype["config"], "name": name}}


def is_functional(config) -> bool:
    """``config`` (a model's serialised config) is a functional graph: layers with inbound nodes
    (a Sequential model's layers have none)."""
    layers = config.get("layers") if isinstance(config, dict) else None
    return isinstance(layers, list) and all("inbound_nodes" in e for e in layers)


def _rewrite(config, precision) -> dict:
    """A functional ``config`` with its pairs folded (batch norms -> Identity, their convs with a
    bias) and, in bfloat16, every layer but the inputs and outputs under mixed_bfloat16; nested
    functional models (an ensemble's members) likewise."""
    import keras

    pairs = foldable_pairs(config)
    convs, outputs = set(pairs.values()), set(output_names(config))
    new_layers = []
    for entry in config["layers"]:
        entry = {**entry, "config": dict(entry["config"])}
        if is_functional(entry["config"]):
            entry["config"] = _rewrite(entry["config"], precision)
        elif entry["name"] in pairs:
            identity = keras.saving.serialize_keras_object(
                keras.layers.Identity(name=entry["name"]))
            node = entry["inbound_nodes"][0]
            entry = {**identity, "name": entry["name"],
                     "inbound_nodes": [{"args": node["args"], "kwargs": {}}]}
        elif entry["name"] in convs:
            entry["config"]["use_bias"] = True
        if precision == "bfloat16" and entry["class_name"] != "InputLayer" \
                and entry["name"] not in outputs:
            _policy(entry, "mixed_bfloat16")
        new_layers.append(entry)
    return {**config, "layers": new_layers}


def _assign(served, source) -> None:
    """Copy ``source``'s weights into its rewritten copy ``served``, folding each pair."""
    import keras

    pairs = foldable_pairs(keras.saving.serialize_keras_object(source)["config"])
    bn_of = {conv: bn for bn, conv in pairs.items()}
    for layer in served.layers:
        src = source.get_layer(layer.name)
        if layer.name in pairs:
            continue
        if layer.name in bn_of:
            layer.set_weights(folded_weights(src, source.get_layer(bn_of[layer.name])))
        elif isinstance(src, keras.Model) and is_functional(
                keras.saving.serialize_keras_object(src).get("config")):
            _assign(layer, src)
        else:
            layer.set_weights(src.get_weights())


def inference_model(model, precision="float32"):
    """``model`` (functional, float32) with its foldable conv/batch-norm pairs folded (those of
    nested functional models too), computing in ``precision``; ``model`` itself when there is
    nothing to change.

    Each folded batch norm becomes a ``keras.layers.Identity`` of the same name, so the layer
    names (and a feature/head boundary such as "features") are those of ``model``. A model that
    is not functional is returned as it is in float32, and is a ``ValueError`` in bfloat16.
    """
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    serialized = keras.saving.serialize_keras_object(model)
    if not is_functional(serialized["config"]):
        if precision == "float32":
            return model
        raise ValueError(f"{type(model).__name__}: bfloat16 needs a functional model")
    config = _rewrite(serialized["config"], precision)
    if config == serialized["config"]:
        return model
    served = keras.saving.deserialize_keras_object({**serialized, "config": config})
    _assign(served, model)
    return served
