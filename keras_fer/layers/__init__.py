"""Custom Keras layers of keras_fer (registered for ``.keras`` loading, ``keras.ops`` only).

Built-in layers cover the rest: instance norm is ``keras.layers.GroupNormalization(groups=-1)``,
adaptive average pooling to a fixed grid is ``keras.layers.AdaptiveAveragePooling2D``.
"""
from keras_fer.layers.basic import GrayscaleToRGB, MeanProbabilityLogits, TakeIndex
from keras_fer.layers.vit import ClassToken, PositionEmbedding

__all__ = ["GrayscaleToRGB", "MeanProbabilityLogits", "TakeIndex", "ClassToken", "PositionEmbedding"]
