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


def resize_weights(in_size, out_size=FACE_SIZE) -> np.ndarray:
    """float32 (out_size, in_size) rows of ``to_face48``'s resize along one axis: the triangle
    kernel of TensorFlow's and JAX's ``scale_and_translate`` (half-pixel centres, widened by the
    downscale factor: antialiasing), each row normalised to sum to 1."""
    inv_scale = np.float32(in_size / out_size)
    kernel_scale = max(inv_scale, np.float32(1.0))
    sample = (np.arange(out_size, dtype="float32") + np.float32(0.5)) * inv_scale
    pos = np.arange(in_size, dtype="float32")[None, :] + np.float32(0.5) - sample[:, None]
    w = np.maximum(np.float32(0.0), np.float32(1.0) - np.abs(pos / kernel_scale))
    return (w / w.sum(axis=1, keepdims=True)).astype("float32")


def gray_uint8(images) -> np.ndarray:
    """NumPy ``to_gray``: uint8 (N, H, W, C), C in 1..4 -> uint8 (N, H, W), as PIL's "L"."""
    if images.shape[-1] < 3:
        return images[..., 0]
    rgb = images[..., :3].astype("int64") @ _LUMA.astype("int64")
    return ((rgb + 32768) >> 16).astype("uint8")


def faces_uint8(images) -> np.ndarray:
    """A list/array of uint8 images (H, W[, C]) of one size -> (N, 48, 48) uint8, in NumPy.

    ``to_face48`` without Keras (``keras_fer.load()`` runs without TensorFlow or Keras): the
    same gray levels, and the same resize weights in float32; the sums' rounding order differs,
    so a pixel whose exact value is a half gray level may round the other way (about 1 pixel in
    2,500 of a resized face differs by 1; a 48x48 face is unchanged).

    Example:
        >>> faces_uint8([np.zeros((96, 96, 3), "uint8")]).shape
        (1, 48, 48)
    """
    batch = np.stack([np.asarray(im) for im in images])
    if batch.ndim == 3:
        batch = batch[..., None]
    gray = gray_uint8(batch.astype("uint8"))
    height, width = gray.shape[1:3]
    if (height, width) == (FACE_SIZE, FACE_SIZE):
        return gray
    rows, cols = resize_weights(height), resize_weights(width)
    out = np.einsum("yh,nhw,xw->nyx", rows, gray.astype("float32"), cols, optimize=True)
    return np.clip(np.round(out), 0, 255).astype("uint8")
