"""The seven FER2013 classes, in the order of every model's outputs (``keras_fer.EMOTIONS``).

A leaf module: the package's ``__init__`` (whose ``load`` imports the predictor) and
``keras_fer.data`` both import it, so neither imports the other (tests/test_layering.py).
"""
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
