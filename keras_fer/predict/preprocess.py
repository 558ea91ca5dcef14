"""Raw images -> 48x48 grayscale faces, in ``keras.ops`` (the same code runs inside the exported
SavedModel's serving signature and in ``python -m keras_fer.predict``, on TensorFlow or JAX).
"""
from __future__ import annotations

import numpy as np

FACE_SIZE = 48
# ITU-R 601-2 luma in 16-bit fixed point, exactly as PIL's ``Image.convert("L")``.
_LUMA = np.array([19595.0, 38470.0, 7471.0], "float32")


def to_gray(images):
    """Grayscale gray levels of a batch of uint8 images, exactly as PIL's ``convert("L")``.

    Args:
        images: uint8 tensor (N, H, W, C) with C = 1 (gray), 2 (gray + alpha), 3 (RGB) or
            4 (RGBA); the channel count may be unknown until run time (traced graphs).

    Returns:
        float32 tensor (N, H, W, 1) holding integers in [0, 255].

    Example:
        >>> to_gray(np.full((1, 2, 2, 3), 200, "uint8")).shape
        (1, 2, 2, 1)
    """
    from keras import ops

    x = ops.cast(images, "float32")
    channels = ops.shape(x)[-1]
    # RGB(A): channels 0, 1, 2; gray (+ alpha): channel 0 three times (weights sum to 65536).
    idx = ops.where(channels >= 3, ops.arange(3), ops.zeros((3,), "int32"))
    rgb = ops.take(x, idx, axis=-1)
    # All terms are integers below 2**24, so float32 is exact; /65536 is exact too.
    return ops.floor((ops.sum(rgb * _LUMA, axis=-1, keepdims=True) + 32768.0) / 65536.0)


def to_face48(images, size=FACE_SIZE):
    """Raw uint8 images -> gray ``size`` x ``size`` images as an 8-bit face crop would be.

    Grayscale as PIL's "L", bilinear resize with antialiasing, rounded to whole gray levels
    (FER2013 faces are 8-bit 48x48 images).

    Args:
        images: uint8 tensor (N, H, W, C), C in 1..4, any H and W.
        size: output side length (48 for FER2013).

    Returns:
        float32 tensor (N, size, size, 1) of integers in [0, 255].

    Example:
        >>> to_face48(np.zeros((2, 64, 80, 3), "uint8")).shape
        (2, 48, 48, 1)
    """
    from keras import ops

    gray = to_gray(images)
    gray = ops.image.resize(gray, (size, size), interpolation="bilinear", antialias=True)
    return ops.clip(ops.round(gray), 0.0, 255.0)


def faces_uint8(images) -> np.ndarray:
    """NumPy convenience: a list/array of uint8 images (H, W[, C]) of one size -> (N, 48, 48) uint8.

    Example:
        >>> faces_uint8([np.zeros((96, 96, 3), "uint8")]).shape
        (1, 48, 48)
    """
    batch = np.stack([np.asarray(im) for im in images])
    if batch.ndim == 3:
        batch = batch[..., None]
    from keras import ops

    out = ops.convert_to_numpy(to_face48(batch.astype("uint8")))
    return out[..., 0].astype("uint8")
