"""Batched, backend-agnostic image transforms (``keras.ops`` only) on float32 NHWC in [0, 255].

Every geometric transform (flip, rotation, translation, scale, random crop, one-of-five crop) is
folded into ONE per-sample affine map from output to source pixel coordinates and applied with
one gather (nearest, for integer maps) or four gathers (bilinear) over the whole batch: no
per-sample Python, no ``tf.image``, nothing XLA compiles badly. Photometric transforms are
elementwise with per-sample factors. Random draws take a ``keras.random.SeedGenerator`` (or an
int seed, or None).

Why not Keras' own layers: ``RandomRotation``/``RandomTranslation``/``RandomZoom``/``RandomCrop``
resample once each (several interpolations, several passes); the one map here resamples once.
Where the step is not XLA-compiled (TensorFlow on a CPU) that one resampling IS Keras'
``keras.ops.image.affine_transform`` (TensorFlow's kernel, 3x faster than the gathers there);
XLA cannot compile that kernel, so XLA steps keep the gathers. ``MixUp``/``CutMix``/
``RandomErasing`` are Keras layers of their own with their own seeds; ``mix`` and
``random_erasing`` here are one step of the ``Augment`` layer, drawn from its seed and switched
by its alternate-epoch schedule (their speed beside Keras' has not been measured).

Example::

    import numpy as np
    from keras_fer.augment import ops as aug
    x = np.random.randint(0, 256, (8, 48, 48, 1)).astype("float32")
    crops = aug.tta_views(x, "tencrop", 44)          # list of 10 batches (8, 44, 44, 1)
    y = aug.adjust_brightness(x, np.full((8,), 1.5, "float32"))
"""
from __future__ import annotations

import math

import keras
from keras import ops

from keras_fer.config import TTA_MODES
from keras_fer.errors import UserError

SHARPNESS_KERNEL = ((1.0, 1.0, 1.0), (1.0, 5.0, 1.0), (1.0, 1.0, 1.0))  # PIL's ImageFilter.SMOOTH


# ---------------------------------------------------------------- helpers
def as_images(images):
    """float32 NHWC tensor from uint8/float input of shape (N, H, W) or (N, H, W, C)."""
    images = ops.convert_to_tensor(images)
    if keras.backend.standardize_dtype(images.dtype) != "float32":
        images = ops.cast(images, "float32")
    if len(images.shape) == 3:
        images = ops.expand_dims(images, -1)
    return images


def pair(size, name="size"):
    """``int`` or ``(h, w)`` -> ``(h, w)`` of ints (None stays None)."""
    if size is None:
        return None
    if isinstance(size, (int, float)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


class Seeds:
    """Hands out distinct seeds for successive draws: a SeedGenerator as is (in a replica of a
    TensorFlow MirroredStrategy step, offset by the replica's index so that the replicas'
    shares of the batch get draws of their own), an int as ``seed, seed + 1, ...``
    (deterministic), None as a fresh SeedGenerator."""

    def __init__(self, seed=None):
        from keras_fer.distribute import replica_index

        self._gen = seed if isinstance(seed, keras.random.SeedGenerator) else None
        if seed is None:
            self._gen = keras.random.SeedGenerator()
        replica = replica_index() if self._gen is not None else None
        if replica is not None:
            self._gen = _ReplicaSeeds(self._gen, replica)
        self._next = None if self._gen is not None else int(seed)

    def __call__(self):
        if self._gen is not None:
            return self._gen
        self._next += 1
        return self._next - 1


class _ReplicaSeeds(keras.random.SeedGenerator):
    """The seeds of ``generator`` with their first number offset by ``replica``."""

    def __init__(self, generator, replica):  # the state stays generator's: no super().__init__
        self.generator, self.replica = generator, replica

    def next(self, ordered=True):
        seed = self.generator.next(ordered)
        return seed + ops.cast(ops.stack([self.replica, 0]), seed.dtype)


def uniform(batch, lo, hi, seed):
    return keras.random.uniform((batch,), minval=lo, maxval=hi, dtype="float32", seed=seed)


def blend(images, other, factor):
    """``images * f + other * (1 - f)`` (PIL's ImageEnhance form), per-sample ``factor`` (B,)."""
    f = ops.reshape(ops.cast(factor, "float32"), (-1, 1, 1, 1))
    return images * f + other * (1.0 - f)


# ---------------------------------------------------------------- crops, flips, resizing
def flip_left_right(images):
    return ops.flip(as_images(images), axis=2)


def _crop(images, top, left, h, w):
    return images[:, top:top + h, left:left + w, :]


def center_offsets(in_hw, out_hw):
    """Top-left offset of a centred crop, as torchvision's CenterCrop rounds it."""
    return tuple(int(round((i - o) / 2.0)) for i, o in zip(in_hw, out_hw))


def center_crop(images, size):
    images = as_images(images)
    h, w = pair(size)
    top, left = center_offsets(images.shape[1:3], (h, w))
    return _crop(images, top, left, h, w)


def fit_to(images, size):
    """Fit images to a model input ``size``: centre crop a dimension that is too large,
    resize (bilinear) when the image is smaller; None -> unchanged."""
    images = as_images(images)
    if size is None:
        return images
    h, w = pair(size)
    H, W = images.shape[1:3]
    if h < H or w < W:
        images = center_crop(images, (min(h, H), min(w, W)))
    if h > H or w > W:
        images = ops.image.resize(images, (h, w), interpolation="bilinear")
    return images


def five_crop_offsets(in_hw, out_hw):
    """(top, left) of the torchvision FiveCrop order: top-left, top-right, bottom-left,
    bottom-right, centre."""
    (H, W), (h, w) = in_hw, out_hw
    return [(0, 0), (0, W - w), (H - h, 0), (H - h, W - w), center_offsets(in_hw, out_hw)]


def five_crops(images, size):
    images = as_images(images)
    h, w = pair(size)
    return [_crop(images, top, left, h, w) for top, left in five_crop_offsets(images.shape[1:3], (h, w))]


def tta_views(images, mode="none", size=None):
    """Views to average softmax over: "none" -> [centre]; "flip" -> [centre, flipped centre];
    "tencrop" -> the 4 corners and centre, then the same five of the flipped image (torchvision
    TenCrop order), each at ``size`` (None: the image size)."""
    if mode not in TTA_MODES:
        raise UserError(f"tta: unknown mode {mode!r} (choose from {', '.join(TTA_MODES)})")
    images = as_images(images)
    size = pair(size) or tuple(images.shape[1:3])
    if mode == "tencrop":
        H, W = images.shape[1:3]
        if size[0] > H or size[1] > W:
            images = fit_to(images, size)
        return five_crops(images, size) + five_crops(flip_left_right(images), size)
    center = fit_to(images, size)
    return [center] if mode == "none" else [center, flip_left_right(center)]


# ---------------------------------------------------------------- the one affine warp
def affine_params(angle=None, scale=None, flip=None, dx=None, dy=None, batch=None):
    """Per-sample maps from centred OUTPUT coordinates to centred SOURCE coordinates, (B, 6):
    ``src = F R(-angle) / scale @ (out + d)``. ``angle`` in radians (counter-clockwise as
    displayed, y pointing down), ``flip`` is +1 or -1 (a
    horizontal mirror applied before the crop), ``d = (dx, dy)`` in pixels is the crop centre
    minus the translation. Missing arguments are the identity; ``batch`` is needed only when
    all are missing."""
    ref = next(v for v in (angle, scale, flip, dx, dy, None) if v is not None) if batch is None else None
    if ref is not None:
        batch = ops.shape(ref)[0]
    zeros = ops.zeros((batch,), "float32")
    ones = ops.ones((batch,), "float32")
    angle = zeros if angle is None else angle
    inv = ones if scale is None else 1.0 / scale
    s = ones if flip is None else flip
    dx = zeros if dx is None else dx
    dy = zeros if dy is None else dy
    cos, sin = ops.cos(angle) * inv, ops.sin(angle) * inv
    a00, a01, a10, a11 = s * cos, -s * sin, sin, cos  # counter-clockwise as displayed
    return ops.stack([a00, a01, a10, a11, a00 * dx + a01 * dy, a10 * dx + a11 * dy], axis=1)


def affine_warp(images, params, size=None, interpolation="bilinear", fill_mode="constant"):
    """Resample every image of the batch through its own affine map ``params`` (B, 6) (see
    ``affine_params``) onto an output of ``size`` (None: the input size). Pixels from outside
    the source are 0 (``fill_mode="constant"``) or the nearest edge pixel ("nearest")."""
    images = as_images(images)
    H, W, C = images.shape[1:4]
    h, w = pair(size) or (H, W)
    if interpolation == "bilinear" and h <= H and w <= W and _tf_kernels():
        return _affine_tf_kernel(images, params, h, w, fill_mode)
    batch = ops.shape(images)[0]
    v = ops.arange(h, dtype="float32") - (h - 1) / 2.0
    u = ops.arange(w, dtype="float32") - (w - 1) / 2.0
    v = ops.reshape(ops.repeat(v, w), (1, h * w))
    u = ops.reshape(ops.tile(u, (h,)), (1, h * w))
    p = [params[:, i:i + 1] for i in range(6)]
    x = p[0] * u + p[1] * v + p[4] + (W - 1) / 2.0  # (B, h*w) source columns
    y = p[2] * u + p[3] * v + p[5] + (H - 1) / 2.0
    flat = ops.reshape(images, (-1, C))
    base = ops.reshape(ops.arange(batch, dtype="int32") * (H * W), (-1, 1))

    def gather(yi, xi):
        yc, xc = ops.clip(yi, 0, H - 1), ops.clip(xi, 0, W - 1)
        vals = ops.take(flat, ops.reshape(base + yc * W + xc, (-1,)), axis=0)
        vals = ops.reshape(vals, (-1, h * w, C))
        if fill_mode == "constant":
            inside = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            vals = vals * ops.expand_dims(ops.cast(inside, "float32"), -1)
        return vals

    if interpolation == "nearest":
        out = gather(ops.cast(ops.round(y), "int32"), ops.cast(ops.round(x), "int32"))
    else:
        x0, y0 = ops.floor(x), ops.floor(y)
        wx, wy = ops.expand_dims(x - x0, -1), ops.expand_dims(y - y0, -1)
        xi, yi = ops.cast(x0, "int32"), ops.cast(y0, "int32")
        top = gather(yi, xi) * (1.0 - wx) + gather(yi, xi + 1) * wx
        bottom = gather(yi + 1, xi) * (1.0 - wx) + gather(yi + 1, xi + 1) * wx
        out = top * (1.0 - wy) + bottom * wy
    return ops.reshape(out, (-1, h, w, C))


def _tf_kernels() -> bool:
    """TensorFlow's ImageProjectiveTransform (``keras.ops.image.affine_transform``) does the
    bilinear warp about 3x faster than the four gathers on a CPU (batch 128, 48 -> 44: 13 vs 35
    ms), where the trainer's step is not XLA-compiled; XLA cannot compile that kernel, so a step
    traced for XLA (a GPU, ``jit_compile=True``) and the other backends keep the gathers."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.executing_eagerly():
        return True
    try:  # TensorFlow's own test of "this trace is for XLA" (tf.function(jit_compile=True))
        from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
    except ImportError:
        return False
    return not GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _affine_tf_kernel(images, params, h, w, fill_mode):
    """``affine_warp`` as ``keras.ops.image.affine_transform`` onto the input's size, then the
    centred (h, w) window: the map is rewritten from centred crop coordinates to absolute ones."""
    H, W = images.shape[1:3]
    top, left = (H - h) // 2, (W - w) // 2
    oy, ox = top + (h - 1) / 2.0, left + (w - 1) / 2.0
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    p = [params[:, i] for i in range(6)]
    zero = ops.zeros_like(p[0])
    transform = ops.stack([p[0], p[1], p[4] + cx - p[0] * ox - p[1] * oy,
                           p[2], p[3], p[5] + cy - p[2] * ox - p[3] * oy, zero, zero], axis=1)
    out = ops.image.affine_transform(images, transform, interpolation="bilinear",
                                     fill_mode=fill_mode, fill_value=0)
    return out[:, top:top + h, left:left + w, :]


def rotate(images, degrees, interpolation="bilinear", fill_mode="constant"):
    """Rotate every image by ``degrees`` (scalar or (B,)), counter-clockwise, about its centre."""
    images = as_images(images)
    angle = ops.ones((ops.shape(images)[0],), "float32") * (math.pi / 180.0) * degrees
    return affine_warp(images, affine_params(angle=angle), None, interpolation, fill_mode)


# ---------------------------------------------------------------- photometric
def adjust_brightness(images, factor):
    """PIL's ImageEnhance.Brightness: blend with black, per-sample ``factor`` (B,)."""
    images = as_images(images)
    return ops.clip(blend(images, ops.zeros_like(images), factor), 0.0, 255.0)


def grayscale_mean(images):
    """Per-image mean grey level (B, 1, 1, 1) (ITU-R 601 luma for 3 channels)."""
    if images.shape[-1] == 3:
        images = ops.sum(images * ops.convert_to_tensor([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    return ops.mean(images, axis=(1, 2, 3), keepdims=True)


def adjust_contrast(images, factor):
    """PIL/torchvision contrast: blend with the image's mean grey level."""
    images = as_images(images)
    return ops.clip(blend(images, grayscale_mean(images) * ops.ones_like(images), factor), 0.0, 255.0)


def smooth3x3(images):
    """PIL's SMOOTH filter (kernel 1 1 1 / 1 5 1 / 1 1 1, /13) on the interior, rounded as PIL's
    8-bit result is; the one-pixel border keeps the original values (as PIL does)."""
    images = as_images(images)
    C = images.shape[-1]
    kernel = ops.convert_to_tensor(SHARPNESS_KERNEL, "float32") / 13.0
    kernel = ops.tile(ops.reshape(kernel, (3, 3, 1, 1)), (1, 1, C, 1))
    inner = ops.round(ops.depthwise_conv(images, kernel, padding="valid"))
    inner = ops.pad(inner, ((0, 0), (1, 1), (1, 1), (0, 0)))
    H, W = images.shape[1:3]
    rows = (ops.arange(H) > 0) & (ops.arange(H) < H - 1)
    cols = (ops.arange(W) > 0) & (ops.arange(W) < W - 1)
    interior = ops.reshape(rows, (1, H, 1, 1)) & ops.reshape(cols, (1, 1, W, 1))
    return ops.where(interior, inner, images)


def adjust_sharpness(images, factor):
    """PIL's ImageEnhance.Sharpness: blend with the smoothed image; factor 1 is the identity,
    > 1 sharpens (studies draw it from [1, 6])."""
    images = as_images(images)
    return ops.clip(blend(images, smooth3x3(images), factor), 0.0, 255.0)


def random_erasing(images, apply, seed, area=(0.02, 0.33), ratio=(0.3, 3.3)):
    """Random erasing (Zhong et al.): where ``apply`` (B,) is true, one rectangle of
    ``area`` fraction and aspect ``ratio`` is filled with uniform noise in [0, 255]."""
    images = as_images(images)
    seeds = seed if isinstance(seed, Seeds) else Seeds(seed)
    batch = ops.shape(images)[0]
    H, W = images.shape[1:3]
    a = uniform(batch, area[0], area[1], seeds()) * (H * W)
    r = ops.exp(uniform(batch, math.log(ratio[0]), math.log(ratio[1]), seeds()))
    eh = ops.clip(ops.round(ops.sqrt(a * r)), 1.0, float(H))
    ew = ops.clip(ops.round(ops.sqrt(a / r)), 1.0, float(W))
    y0 = ops.floor(uniform(batch, 0.0, 1.0, seeds()) * (H - eh + 1.0))
    x0 = ops.floor(uniform(batch, 0.0, 1.0, seeds()) * (W - ew + 1.0))
    mask = box_mask(H, W, y0, y0 + eh, x0, x0 + ew) & ops.reshape(apply, (-1, 1, 1, 1))
    noise = keras.random.uniform(ops.shape(images), 0.0, 255.0, dtype="float32", seed=seeds())
    return ops.where(mask, noise, images)


def box_mask(H, W, y0, y1, x0, x1):
    """(B, H, W, 1) bool: rows in [y0, y1) and columns in [x0, x1), per sample."""
    rows = ops.reshape(ops.arange(H, dtype="float32"), (1, H, 1, 1))
    cols = ops.reshape(ops.arange(W, dtype="float32"), (1, 1, W, 1))

    def col(t):
        return ops.reshape(t, (-1, 1, 1, 1))

    return (rows >= col(y0)) & (rows < col(y1)) & (cols >= col(x0)) & (cols < col(x1))


# ---------------------------------------------------------------- mixup / cutmix
def mix(images, onehot, kind="mixup", alpha=1.0, seed=None):
    """Mix each sample with a random partner of the batch, ``lam ~ Beta(alpha, alpha)`` (one
    per batch): "mixup" blends images and labels; "cutmix" pastes the partner's box of area
    ``1 - lam`` and weights the labels by the pasted area. Returns ``(images, labels)``."""
    if kind not in ("mixup", "cutmix"):
        raise UserError(f"augment: mix must be 'mixup' or 'cutmix', got {kind!r}")
    seeds = seed if isinstance(seed, Seeds) else Seeds(seed)
    images = as_images(images)
    onehot = ops.cast(onehot, "float32")
    batch = ops.shape(images)[0]
    lam = keras.random.beta((1,), alpha, alpha, dtype="float32", seed=seeds())
    perm = keras.random.shuffle(ops.arange(batch), seed=seeds())
    other_x, other_y = ops.take(images, perm, axis=0), ops.take(onehot, perm, axis=0)
    if kind == "mixup":
        return images * lam + other_x * (1.0 - lam), onehot * lam + other_y * (1.0 - lam)
    H, W = images.shape[1:3]
    cut = ops.sqrt(1.0 - lam)
    cy, cx = uniform(1, 0.0, float(H), seeds()), uniform(1, 0.0, float(W), seeds())
    y0, y1 = ops.clip(ops.round(cy - cut * H / 2), 0, H), ops.clip(ops.round(cy + cut * H / 2), 0, H)
    x0, x1 = ops.clip(ops.round(cx - cut * W / 2), 0, W), ops.clip(ops.round(cx + cut * W / 2), 0, W)
    mask = box_mask(H, W, y0, y1, x0, x1)
    lam = 1.0 - (y1 - y0) * (x1 - x0) / float(H * W)
    return ops.where(mask, other_x, images), onehot * lam + other_y * (1.0 - lam)
