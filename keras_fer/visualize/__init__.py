"""Explaining keras_fer models: saliency, Grad-CAM(++), their measured faithfulness,
activations, filters, DACL attention, training curves, data and prediction charts;
``python -m keras_fer.visualize`` (see ``cli``).

Importing this package does not import Keras (so ``__main__`` can pick the backend first); the
functions below load on first use.

Example:
    >>> from keras_fer.visualize import saliency, gradcam
    >>> maps = saliency(model, images, classes=[3, 3], smooth_samples=20)
"""
from keras_fer.lazy import lazy_exports

_EXPORTS = {
    "saliency": "explain", "gradcam": "explain", "random_clone": "explain",
    "last_conv_layer": "explain", "conv_layers": "explain", "candidate_layers": "explain",
    "default_layer": "explain", "choose_layer": "explain", "measure": "faithfulness",
    "layer_outputs": "activations", "conv_filters": "activations", "attention_layer": "activations",
    "write_index": "report", "Figure": "report", "Table": "report", "main": "cli", "read_image_files": "cli",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
