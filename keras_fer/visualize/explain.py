"""Gradient explanations of a keras_fer model: saliency (vanilla and SmoothGrad), Grad-CAM(++).

Built on tf-keras-vis 0.8.7, which needs the TensorFlow backend. What works with Keras 3
models (checked on keras 3.15 / TF 2.21): ``Saliency``, ``Gradcam`` and ``GradcamPlusPlus``
with ``clone=False`` and no ``model_modifier``. keras_fer models output logits from the Dense
"predictions" layer, so ``ReplaceToLinear`` (which clones the model) is never needed: the score
is the logit of the chosen class. Two things are done here rather than in tf-keras-vis:

* SmoothGrad: tf-keras-vis draws its noise from NumPy's global generator, one gradient call per
  sample. Here the noisy copies come from a seeded ``np.random.Generator`` (reproducible maps)
  and go through tf-keras-vis ``Saliency`` as one batch.
* Signed maps: tf-keras-vis returns ``|gradient|`` min-max normalised by default; we ask it for
  the raw signed gradient (``gradient_modifier=None, normalize_map=False``) and derive the
  absolute map from it, so both views come from the same gradients.

The default Grad-CAM layer (``choose_layer``): Grad-CAM weights *rectified* feature maps
(Selvaraju et al. use the last conv block after its ReLU). A layer before batch norm and ReLU
(VGG13's ``vgg_conv10``) gives mostly negative sums that Grad-CAM's ReLU zeroes, and a 2x2 map
says little about a face. So the candidates are the top-level layers whose output is a
ReLU-family feature map with more than 2x2 positions, last first; the default is the last one
unless its Grad-CAM is constant (no positive evidence anywhere) for more than 5% of the probe
faces, then the one before it (at most ``PROBES`` tried; else the least constant). Measured on
saved_models/best (200 PublicTest faces): ``vgg_relu8`` 15.5% constant, ``vgg_relu7`` 0.5%.

Example:
    >>> sal = saliency(model, images, classes=[3, 3])            # (2, H, W) signed
    >>> cam = gradcam(model, images, classes=[3, 3], layer="conv_last")   # (2, H, W) in [0, 1]
    >>> layer, shares = choose_layer(model, images, [3, 3])      # shares: {layer: constant share}
"""
from __future__ import annotations

import warnings

import numpy as np

from keras_fer.errors import UserError

CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")
RECTIFIER_TYPES = ("ReLU", "PReLU", "LeakyReLU", "ELU")
RECTIFIER_NAMES = ("relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish")
MIN_POSITIONS = 5  # more than 2x2
MAX_CONSTANT = 0.05  # a default layer may leave at most this share of Grad-CAM maps constant
PROBES = 3  # candidate layers tried, last first


def _score(classes):
    from tf_keras_vis.utils.scores import CategoricalScore

    return CategoricalScore([int(c) for c in classes])


def saliency(model, images, classes, smooth_samples=0, smooth_noise=0.2, seed=0, batch_size=64):
    """Signed gradient of the chosen class's logit w.r.t. the input pixels.

    Args:
        model: a keras_fer model (float32 [0, 255] input (H, W, 1), logits out).
        images: float32 (N, H, W, 1) model inputs.
        classes: N class indices (the logit to explain for each image).
        smooth_samples: 0 for the vanilla gradient; > 0 for SmoothGrad with that many noisy copies.
        smooth_noise: SmoothGrad noise std as a fraction of each image's (max - min).
        seed: seed of the SmoothGrad noise.
        batch_size: images per gradient call.

    Returns:
        float32 (N, H, W): the signed map (take ``np.abs`` for the absolute one).
    """
    from tf_keras_vis.saliency import Saliency

    images = np.asarray(images, np.float32)
    classes = np.asarray(classes, np.int64)
    if len(images) != len(classes):
        raise ValueError(f"{len(images)} images but {len(classes)} classes")
    if len(images) == 0:
        return np.zeros(images.shape[:3], np.float32)
    explainer = Saliency(model, clone=False)
    samples = max(int(smooth_samples), 0)
    if samples:
        rng = np.random.default_rng(seed)
        span = images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))
        sigma = (smooth_noise * span)[:, None, None, None, None]
        noisy = images[:, None] + rng.normal(size=(len(images), samples) + images.shape[1:]) * sigma
        flat = noisy.reshape((-1,) + images.shape[1:]).astype(np.float32)
        grads = _gradients(explainer, flat, np.repeat(classes, samples), batch_size)
        return grads.reshape((len(images), samples) + grads.shape[1:]).mean(axis=1)
    return _gradients(explainer, images, classes, batch_size)


def _gradients(explainer, images, classes, batch_size):
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras 3: list-vs-tensor input structure
        for i in range(0, len(images), batch_size):
            g = explainer(_score(classes[i:i + batch_size]), images[i:i + batch_size],
                          gradient_modifier=None, normalize_map=False, keepdims=True)
            out.append(np.asarray(g)[..., 0].reshape((-1,) + images.shape[1:3]))
    return np.concatenate(out).astype(np.float32)


def gradcam(model, images, classes, layer=None, plus_plus=False, batch_size=64):
    """Grad-CAM (or Grad-CAM++) of the chosen class's logit at a conv layer, upsampled to the input.

    Args:
        model: a keras_fer model.
        images: float32 (N, H, W, 1) model inputs.
        classes: N class indices.
        layer: name of the layer whose maps are weighted; None: ``default_layer(model)``.
        plus_plus: use Grad-CAM++ weights.
        batch_size: images per call.

    Returns:
        float32 (N, H, W), each map min-max normalised to [0, 1] (all zero if the class has no
        positive evidence at that layer).
    """
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    layer = layer or default_layer(model)
    get_layer(model, layer)
    images = np.asarray(images, np.float32)
    classes = np.asarray(classes, np.int64)
    explainer = (GradcamPlusPlus if plus_plus else Gradcam)(model, clone=False)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for i in range(0, len(images), batch_size):
            cam = explainer(_score(classes[i:i + batch_size]), images[i:i + batch_size],
                            penultimate_layer=layer, seek_penultimate_conv_layer=False)
            out.append(np.asarray(cam).reshape((-1,) + images.shape[1:3]))
    return np.concatenate(out).astype(np.float32)


def get_layer(model, name):
    """``model.get_layer(name)``, or a UserError listing the layer names."""
    try:
        return model.get_layer(name)
    except ValueError:
        names = ", ".join(layer.name for layer in model.layers)
        raise UserError(f"--layer {name!r}: no such layer in the model (layers: {names})") from None


def conv_layers(model):
    """The top-level conv layers of ``model`` (Conv2D and its variants), in graph order."""
    return [layer for layer in model.layers if type(layer).__name__ in CONV_TYPES]


def last_conv_layer(model):
    """Name of the last top-level conv layer; a UserError if the model has none."""
    convs = conv_layers(model)
    if not convs:
        raise UserError(f"model {model.name!r} has no Conv2D layer: name one with --layer")
    return convs[-1].name


def _positions(layer):
    """h * w of a layer's 4-D output; 0 for any other output."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # several outputs, or never called
        return 0
    if len(shape) != 4 or None in tuple(shape[1:3]):
        return 0
    return int(shape[1]) * int(shape[2])


def _rectified(layer):
    """A ReLU-family layer, or one (Activation, a conv) whose activation is ReLU-family."""
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    return type(layer).__name__ in RECTIFIER_TYPES or name in RECTIFIER_NAMES


def candidate_layers(model):
    """Top-level layers whose output is a rectified feature map with more than 2x2 positions,
    in graph order (the default Grad-CAM layer is among the last ones)."""
    return [layer.name for layer in model.layers
            if _rectified(layer) and _positions(layer) >= MIN_POSITIONS]


def default_layer(model):
    """The last candidate layer (no images needed); a model without one (a ViT's linear patch
    embedding): its last conv layer; a UserError if it has neither."""
    names = candidate_layers(model)
    return names[-1] if names else last_conv_layer(model)


def choose_layer(model, images, classes, max_constant=MAX_CONSTANT, probes=PROBES):
    """The default Grad-CAM layer for ``images`` (float32 model inputs) and ``classes``: the
    last candidate whose Grad-CAM is constant for at most ``max_constant`` of the images, trying
    at most ``probes`` candidates (last first); if none is, the least constant of them.

    Returns:
        (layer name, {tried layer: share of constant Grad-CAM maps}).
    """
    from keras_fer.visualize.metrics import is_constant

    tried = candidate_layers(model)[::-1][:probes] or [default_layer(model)]
    shares = {}
    for name in tried:
        shares[name] = float(is_constant(gradcam(model, images, classes, layer=name)).mean())
        if shares[name] <= max_constant:
            return name, shares
    return min(shares, key=shares.get), shares


def random_clone(model, seed=0):
    """The same architecture with freshly initialised weights (the sanity-check baseline).

    ``keras.models.clone_model`` builds new layers from their configs; their initialisers run
    after ``keras.utils.set_random_seed(seed)`` so the baseline is reproducible.
    """
    import keras

    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)
