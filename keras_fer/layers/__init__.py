"""Custom Keras layers of keras_fer (registered for ``.keras`` loading, ``keras.ops`` only).

Built-in layers cover the rest: instance norm is ``keras.layers.GroupNormalization(groups=-1)``,
adaptive average pooling to a fixed grid is ``keras.layers.AdaptiveAveragePooling2D``.
``SparseCenterLoss`` (DACL) is a pass-through layer whose loss the trainer adds
(``keras_fer.models.aux_loss_layers``).
"""
from keras_fer.layers.basic import GrayscaleToRGB, MeanProbabilityLogits, TakeIndex
from keras_fer.layers.center_loss import SparseCenterLoss
from keras_fer.layers.vit import ClassToken, PositionEmbedding

__all__ = ["GrayscaleToRGB", "MeanProbabilityLogits", "TakeIndex", "SparseCenterLoss", "ClassToken",
           "PositionEmbedding"]
