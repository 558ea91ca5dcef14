"""The ``Augment`` layer (the whole augmentation config as constructor args) and the
``AugmentEpoch`` callback that drives its alternate-epoch schedule."""
from __future__ import annotations

import math

import keras
from keras import ops

from keras_fer.augment import ops as aug
from keras_fer.errors import UserError

FILL_MODES = ("constant", "nearest")
MIX_KINDS = (None, "mixup", "cutmix")


def _bad(key, value, what):
    raise UserError(f"augment: {key} must be {what}, got {value!r}")


def _number(key, value, lo=0.0, hi=math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        _bad(key, value, f"a number in [{lo}, {hi}]")
    return float(value)


def _factor_range(key, value, around_one=True):
    """None | x (-> [max(0, 1 - x), 1 + x]) | [lo, hi] with 0 <= lo <= hi."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and around_one:
        x = _number(key, value)
        return [max(0.0, 1.0 - x), 1.0 + x]
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
            or not 0 <= value[0] <= value[1]):
        _bad(key, value, "null, a number or a pair [lo, hi] with 0 <= lo <= hi")
    return [float(value[0]), float(value[1])]


def _bool(key, value):
    if not isinstance(value, bool):
        _bad(key, value, "true or false")
    return value


@keras.saving.register_keras_serializable(package="keras_fer")
class Augment(keras.layers.Layer):
    """Random augmentation of float32 (or uint8) NHWC images in [0, 255], inside the model.

    With ``training=True``: one per-sample affine warp (flip, rotation, translation, scale and
    the random crop to ``crop``), then brightness, contrast, sharpness and random erasing,
    batched ``keras.ops`` with a SeedGenerator. Otherwise: ``fit_to(images, crop)`` (centre crop).

    Args:
        flip: random horizontal flip (p = 0.5).
        crop: output size (int); a random crop in training, the centre crop otherwise. None: the
            input size.
        pad: zero padding (pixels) around the image the random crop may reach into.
        rotation: maximum rotation in degrees (uniform in [-rotation, rotation]).
        translate: maximum shift as a fraction of the size (uniform in [-t, t] per axis).
        scale: zoom factor range [lo, hi] (or a number s: [1 - s, 1 + s]).
        brightness: factor range [lo, hi] (PIL ImageEnhance), a number b: [1 - b, 1 + b].
        contrast: factor range, as brightness.
        sharpness: factor range such as [1, 6] (PIL ImageEnhance.Sharpness).
        five_crop: the random crop is one of the 4 corners and the centre (needs ``crop``).
        erasing: probability of random erasing per image.
        alternate: the schedule of one ablation study: on odd epochs (0-based, as
            ``AugmentEpoch`` sets them) ONE enabled transform, chosen at random per batch, is
            applied; on even epochs none (only the centre crop to ``crop``).
        fill_mode: "constant" (0) or "nearest" for pixels from outside the image.
        mix: None, "mixup" or "cutmix": not applied by ``call`` (it needs labels); the trainer
            applies it with ``mix_batch(images, onehot)``.
        mix_alpha: the Beta(alpha, alpha) parameter of ``mix``.
        seed: int seed of the layer's SeedGenerator (None: random).

    Example:
        >>> layer = Augment(flip=True, crop=44, rotation=10, brightness=[0.8, 1.2], seed=1)
        >>> x = np.random.randint(0, 256, (4, 48, 48, 1)).astype("uint8")
        >>> layer(x, training=True).shape
        (4, 44, 44, 1)
        >>> model.fit(..., callbacks=[AugmentEpoch(layer)])  # needed for alternate=True
    """

    def __init__(self, flip=True, crop=None, pad=0, rotation=0.0, translate=0.0, scale=(1.0, 1.0),
                 brightness=None, contrast=None, sharpness=None, five_crop=False, erasing=0.0,
                 alternate=False, fill_mode="constant", mix=None, mix_alpha=1.0, seed=None,
                 **kwargs):
        kwargs.setdefault("dtype", "float32")  # never augment in bfloat16/float16
        super().__init__(**kwargs)
        if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 1):
            _bad("crop", crop, "null or a positive integer")
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            _bad("pad", pad, "a non-negative integer")
        if fill_mode not in FILL_MODES:
            _bad("fill_mode", fill_mode, " or ".join(FILL_MODES))
        if mix not in MIX_KINDS:
            _bad("mix", mix, "null, 'mixup' or 'cutmix'")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            _bad("seed", seed, "null or an integer")
        self.flip = _bool("flip", flip)
        self.crop, self.pad = crop, pad
        self.rotation = _number("rotation", rotation, 0.0, 180.0)
        self.translate = _number("translate", translate, 0.0, 1.0)
        self.scale = _factor_range("scale", scale) or [1.0, 1.0]
        if self.scale[0] <= 0:
            _bad("scale", scale, "a range of positive factors")
        self.brightness = _factor_range("brightness", brightness)
        self.contrast = _factor_range("contrast", contrast)
        self.sharpness = _factor_range("sharpness", sharpness)
        self.five_crop = _bool("five_crop", five_crop)
        if five_crop and crop is None:
            _bad("five_crop", five_crop, "false when crop is null (it needs a crop size)")
        self.erasing = _number("erasing", erasing, 0.0, 1.0)
        self.alternate = _bool("alternate", alternate)
        self.fill_mode, self.mix, self.seed = fill_mode, mix, seed
        self.mix_alpha = _number("mix_alpha", mix_alpha, 1e-6)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.epoch = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, name="epoch")
        self.built = True  # no input-dependent weights

    # ------------------------------------------------------------ config
    @classmethod
    def from_config_dict(cls, d, source="augment"):
        """Build from a JSON config dict (``TrainConfig.augment``); ``{"affine": {"rotation":
        ..., "translate": ..., "scale": ...}}`` is accepted as well as the flat keys. An unknown
        key or a bad value is a UserError naming it."""
        if d is None:
            d = {}
        if not isinstance(d, dict):
            raise UserError(f"{source}: expected a JSON object, got {d!r}")
        d = dict(d)
        affine = d.pop("affine", {}) or {}
        if not isinstance(affine, dict) or set(affine) - {"rotation", "translate", "scale"}:
            raise UserError(f"{source}: affine must be an object with rotation, translate, scale; "
                            f"got {affine!r}")
        d.update(affine)
        known = cls.config_keys()
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise UserError(f"{source}: unknown augmentation {unknown[0]!r} (known: {', '.join(known)})")
        return cls(**d)

    @staticmethod
    def config_keys():
        return ("flip", "crop", "pad", "rotation", "translate", "scale", "brightness", "contrast",
                "sharpness", "five_crop", "erasing", "alternate", "fill_mode", "mix", "mix_alpha",
                "seed")

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in self.config_keys()})
        return config

    # ------------------------------------------------------------ what is enabled
    @property
    def affine(self):
        return self.rotation > 0 or self.translate > 0 or self.scale != [1.0, 1.0]

    def transforms(self, image_hw=None):
        """Names of the enabled transforms, in the order they are applied."""
        crop_moves = self.crop is not None and (self.pad > 0 or self.five_crop or image_hw is None
                                                or tuple(image_hw) != (self.crop, self.crop))
        names = [("flip", self.flip), ("crop", crop_moves), ("affine", self.affine),
                 ("brightness", self.brightness), ("contrast", self.contrast),
                 ("sharpness", self.sharpness), ("erasing", self.erasing > 0)]
        return [n for n, on in names if on]

    def compute_output_shape(self, input_shape):
        channels = input_shape[3] if len(input_shape) == 4 else 1
        h, w = (self.crop, self.crop) if self.crop else tuple(input_shape[1:3])
        return (input_shape[0], h, w, channels)

    # ------------------------------------------------------------ the transforms
    def call(self, images, training=None):
        images = aug.as_images(images)
        if not training:
            return aug.fit_to(images, self.crop)
        H, W = images.shape[1:3]
        if self.crop is not None and self.crop > min(H, W) + 2 * self.pad:
            raise UserError(f"augment: crop {self.crop} is larger than the {H}x{W} images plus "
                            f"2 x pad {self.pad}")
        names = self.transforms((H, W))
        if not names:
            return aug.fit_to(images, self.crop)
        seeds = aug.Seeds(self.seed_generator)
        batch = ops.shape(images)[0]
        active = self._gates(names, seeds)
        x = self._geometry(images, names, active, batch, seeds)
        for name, fn in (("brightness", aug.adjust_brightness), ("contrast", aug.adjust_contrast),
                         ("sharpness", aug.adjust_sharpness)):
            if name in names:
                lo, hi = getattr(self, name)
                x = fn(x, self._gate(active[name], aug.uniform(batch, lo, hi, seeds()), 1.0))
        if "erasing" in names:
            apply = aug.uniform(batch, 0.0, 1.0, seeds()) < self.erasing
            x = aug.random_erasing(x, self._gate(active["erasing"], apply, False), seeds)
        return x

    def _gates(self, names, seeds):
        """Per transform: True (always on), or a scalar bool tensor under ``alternate``."""
        if not self.alternate:
            return {n: True for n in names}
        choice = keras.random.randint((), 0, len(names), seed=seeds())
        odd = ops.equal(ops.mod(ops.convert_to_tensor(self.epoch), 2), 1)
        return {n: ops.logical_and(odd, ops.equal(choice, i)) for i, n in enumerate(names)}

    @staticmethod
    def _gate(on, value, neutral):
        return value if on is True else ops.where(on, value, neutral)

    def _geometry(self, images, names, active, batch, seeds):
        H, W = images.shape[1:3]
        h, w = (self.crop, self.crop) if self.crop else (H, W)
        if not {"flip", "crop", "affine"} & set(names):
            return aug.fit_to(images, self.crop)
        flip = angle = scale = None
        dx = dy = 0.0
        if "flip" in names:
            heads = aug.uniform(batch, 0.0, 1.0, seeds()) < 0.5
            flip = ops.where(self._gate(active["flip"], heads, False), -1.0, 1.0)
        top, left = aug.center_offsets((H, W), (h, w))
        if "crop" in names:
            top, left = self._crop_offsets(H, W, h, w, batch, seeds, active["crop"], top, left)
        dy, dx = top - (H - h) / 2.0, left - (W - w) / 2.0  # crop centre in centred coordinates
        if "affine" in names:
            on = active["affine"]
            angle = self._gate(on, aug.uniform(batch, -self.rotation, self.rotation, seeds())
                               * (math.pi / 180.0), 0.0)
            scale = self._gate(on, aug.uniform(batch, self.scale[0], self.scale[1], seeds()), 1.0)
            t = self.translate
            dx = dx - self._gate(on, aug.uniform(batch, -t, t, seeds()) * W, 0.0)
            dy = dy - self._gate(on, aug.uniform(batch, -t, t, seeds()) * H, 0.0)
        ones = ops.ones((batch,), "float32")
        params = aug.affine_params(angle, scale, flip, dx * ones, dy * ones)
        interpolation = "bilinear" if "affine" in names else "nearest"
        return aug.affine_warp(images, params, (h, w), interpolation, self.fill_mode)

    def _crop_offsets(self, H, W, h, w, batch, seeds, on, top0, left0):
        if self.five_crop:
            corners = ops.convert_to_tensor(aug.five_crop_offsets((H, W), (h, w)), "float32")
            pick = ops.take(corners, keras.random.randint((batch,), 0, 5, seed=seeds()), axis=0)
            top, left = pick[:, 0], pick[:, 1]
        else:
            p = self.pad
            top = ops.cast(keras.random.randint((batch,), -p, H + p - h + 1, seed=seeds()), "float32")
            left = ops.cast(keras.random.randint((batch,), -p, W + p - w + 1, seed=seeds()), "float32")
        return self._gate(on, top, float(top0)), self._gate(on, left, float(left0))

    def mix_batch(self, images, onehot):
        """Apply the configured mixup/cutmix to a training batch (identity when ``mix`` is None)."""
        if self.mix is None:
            return images, onehot
        return aug.mix(images, onehot, self.mix, self.mix_alpha, aug.Seeds(self.seed_generator))


def find_augment_layers(model):
    """Every ``Augment`` layer in ``model`` (searching nested models)."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, Augment):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(find_augment_layers(layer))
    return found


class AugmentEpoch(keras.callbacks.Callback):
    """Tells ``Augment`` layers the epoch (for ``alternate=True``) through a non-trainable
    variable, so the compiled train step is not retraced.

    Args:
        layer: an ``Augment`` layer, or None: every Augment layer of the model being fitted.

    Example:
        >>> model.fit(x, y, epochs=4, callbacks=[AugmentEpoch()])
    """

    def __init__(self, layer=None):
        super().__init__()
        self.layer = layer

    def on_epoch_begin(self, epoch, logs=None):
        layers = [self.layer] if self.layer is not None else find_augment_layers(self.model)
        for layer in layers:
            layer.epoch.assign(epoch)
