"""DACL, deep attentive center loss (Farzaneh & Qi, WACV 2021) on a ResNet-18 at 224x224.

Trainable parameters: backbone 11,176,512; context encoder Dense 25088->3584 89,918,976,
BN 7,168, Dense 512 1,835,520, BN 1,024, Dense 64 32,832, BN 128; multi-head binary classifier
Dense 64->1024 66,560; "predictions" Dense 512->7 3,591.

``image_size=48`` (``experiments/dacl_48.json``) skips the resize: the map is 2x2x512 and the
context encoder's first Dense 2048->3584 (7,344,128), about 11x faster to train on a CPU.
"""
import keras

from keras_fer.layers import SparseCenterLoss, TakeIndex
from keras_fer.models.common import image_input, load_local_weights, predictions, preprocess
from keras_fer.models.registry import register_model
from keras_fer.models.resnet import apply_resnet18


def apply_attention_network(feature_map, name="attention"):
    """Context encoder (Dense 3584/512/64 with BN; ReLU, ReLU, tanh) and the multi-head binary
    classifier (Dense 64 -> 2*C seen as C heads of 2, softmax per head, second output kept):
    one attention weight per channel of ``feature_map``, shape (N, C)."""
    channels = feature_map.shape[-1]
    x = keras.layers.Flatten(name=f"{name}_flatten")(feature_map)
    for i, (units, act) in enumerate(((3584, "relu"), (512, "relu"), (64, "tanh")), start=1):
        x = keras.layers.Dense(units, name=f"{name}_dense{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation(act, name=f"{name}_{act}{i}")(x)
    x = keras.layers.Dense(2 * channels, name=f"{name}_heads")(x)
    x = keras.layers.Reshape((channels, 2), name=f"{name}_heads_reshape")(x)
    x = keras.layers.Softmax(axis=-1, name=f"{name}_heads_softmax")(x)
    return TakeIndex(index=1, axis=-1, name=f"{name}_weights")(x)


def _dacl(input_shape, num_classes, lam, alpha, mode, weights, name, image_size=224):
    inputs = image_input(input_shape)
    fmap = apply_resnet18(preprocess(inputs, size=image_size, channels=3), stem="imagenet")
    attention = apply_attention_network(fmap)
    features = keras.layers.GlobalAveragePooling2D(name="features")(fmap)
    x = SparseCenterLoss(num_classes, features.shape[-1], lam=lam, alpha=alpha, mode=mode,
                         name="center_loss")([features, attention])
    model = keras.Model(inputs, predictions(x, num_classes), name=name)
    return load_local_weights(model, weights)


@register_model
def dacl(input_shape=None, num_classes=7, lam=0.01, alpha=0.5, weights=None, image_size=224):
    """DACL with the sparse (attention-weighted) center loss; the trainer adds the loss of the
    "center_loss" layer (``keras_fer.models.aux_loss_layers``). ``image_size``: the side the
    input is resized to (the paper's 224; 48 keeps FER2013's own size, a 2x2x512 map)."""
    return _dacl(input_shape, num_classes, lam, alpha, "sparse", weights, "dacl", image_size)


@register_model
def dacl_center(input_shape=None, num_classes=7, lam=0.01, alpha=0.5, weights=None,
                image_size=224):
    """DACL's network with the classic center loss (all attention weights equal to 1)."""
    return _dacl(input_shape, num_classes, lam, alpha, "classic", weights, "dacl_center",
                 image_size)


@register_model
def dacl_softmax(input_shape=None, num_classes=7, weights=None, image_size=224):
    """DACL's network trained with the softmax loss only (lambda = 0)."""
    return _dacl(input_shape, num_classes, 0.0, 0.5, "sparse", weights, "dacl_softmax",
                 image_size)
