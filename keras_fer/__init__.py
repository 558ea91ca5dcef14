"""keras_fer: facial expression recognition with Keras 3, from data to a deployed model.

Subpackages (each a ``python -m keras_fer.<name>`` CLI where users run it):
``data``, ``augment``, ``models``, ``layers``, ``losses``, ``train``, ``evaluate``,
``visualize``, ``export``, ``predict``, ``bench``, ``experiments``.
"""
__version__ = "0.1.0"

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
