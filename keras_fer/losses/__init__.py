"""Losses that live in the model graph: DACL's sparse center loss."""
from keras_fer.losses.center_loss import SparseCenterLoss

__all__ = ["SparseCenterLoss"]
