"""keras_fer.augment.ops against NumPy / SciPy / PIL references."""
import numpy as np
import pytest
from keras import ops
from PIL import Image, ImageEnhance
from scipy import ndimage

from keras_fer.augment import ops as aug
from keras_fer.errors import UserError

pytestmark = pytest.mark.backends


def np_(x):
    return ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(0).randint(0, 256, (4, 48, 48, 1)).astype("uint8")


@pytest.fixture(scope="module")
def smooth():
    """Face-like smooth images (sharpening random noise only clips)."""
    noise = np.random.RandomState(1).rand(3, 48, 48) * 255
    return np.clip(ndimage.gaussian_filter(noise, (0, 2, 2)) * 3 - 255, 0, 255).astype("uint8")[..., None]


def test_flip_center_crop_and_fit_to(images):
    x = images.astype("float32")
    np.testing.assert_array_equal(np_(aug.flip_left_right(images)), x[:, :, ::-1])
    np.testing.assert_array_equal(np_(aug.center_crop(images, 44)), x[:, 2:46, 2:46])
    np.testing.assert_array_equal(np_(aug.fit_to(images, 42)), x[:, 3:45, 3:45])
    np.testing.assert_array_equal(np_(aug.fit_to(images[..., 0], None)), x)  # (N, H, W) -> NHWC
    big = np_(aug.fit_to(images, 56))
    assert big.shape == (4, 56, 56, 1) and 0 <= big.min() and big.max() <= 255


def test_tta_views_match_numpy_tencrop(images):
    x = images.astype("float32")
    s = 44
    five = [x[:, :s, :s], x[:, :s, -s:], x[:, -s:, :s], x[:, -s:, -s:], x[:, 2:46, 2:46]]
    flipped = x[:, :, ::-1]
    five_f = [flipped[:, :s, :s], flipped[:, :s, -s:], flipped[:, -s:, :s], flipped[:, -s:, -s:],
              flipped[:, 2:46, 2:46]]
    views = aug.tta_views(images, "tencrop", s)
    assert len(views) == 10
    for got, want in zip(views, five + five_f):
        np.testing.assert_array_equal(np_(got), want)
    none, = aug.tta_views(images, "none", s)
    np.testing.assert_array_equal(np_(none), five[4])
    center, mirrored = aug.tta_views(images, "flip", s)
    np.testing.assert_array_equal(np_(mirrored), five[4][:, :, ::-1])
    with pytest.raises(UserError, match="'twelve'"):
        aug.tta_views(images, "twelve", s)


def test_rotation_matches_rot90_and_scipy_bilinear(images):
    x = images.astype("float32")
    np.testing.assert_allclose(np_(aug.rotate(x, 90.0)), np.rot90(x, 1, axes=(1, 2)), atol=2e-3)
    want = ndimage.rotate(x, 17, axes=(1, 2), reshape=False, order=1, mode="grid-constant",
                          cval=0.0, prefilter=False)
    np.testing.assert_allclose(np_(aug.rotate(x, 17.0)), want, atol=1e-2)
    nearest = np_(aug.rotate(x, 17.0, fill_mode="nearest"))
    assert (nearest[:, 0, 0] > 0).sum() >= 3  # corners filled from the edge, not 0
    assert (np_(aug.rotate(x, 17.0))[:, 0, 0] == 0).all()


def test_warp_identity_crop_and_flip_are_exact(images):
    x = images.astype("float32")
    batch = 4
    flip = ops.convert_to_tensor([1.0, -1.0, 1.0, -1.0])
    dx = ops.convert_to_tensor([-2.0, -2.0, 2.0, 0.0])  # crop left offsets 0, 0, 4, 2 of 48 -> 44
    dy = ops.convert_to_tensor([2.0, -2.0, 0.0, 1.0])   # top offsets 4, 0, 2, 3
    params = aug.affine_params(flip=flip, dx=dx, dy=dy)
    for interp in ("nearest", "bilinear"):
        out = np_(aug.affine_warp(x, params, 44, interp))
        for i, (top, left) in enumerate([(4, 0), (0, 0), (2, 4), (3, 2)]):
            src = x[i, :, ::-1] if i % 2 else x[i]
            np.testing.assert_array_equal(out[i], src[top:top + 44, left:left + 44])
    ident = aug.affine_params(batch=batch)
    np.testing.assert_array_equal(np_(aug.affine_warp(x, ident)), x)


def test_brightness_contrast_formula(images):
    x = images.astype("float32")
    f = np.array([0.0, 0.5, 1.0, 2.0], "float32")
    want = np.clip(x * f[:, None, None, None], 0, 255)
    np.testing.assert_allclose(np_(aug.adjust_brightness(images, f)), want, rtol=1e-6)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    want = np.clip(mean + f[:, None, None, None] * (x - mean), 0, 255)
    np.testing.assert_allclose(np_(aug.adjust_contrast(images, f)), want, atol=1e-3)
    np.testing.assert_array_equal(np_(aug.adjust_contrast(images, np.ones(4, "float32"))), x)


@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0, 6.0])
def test_sharpness_matches_pil(smooth, factor):
    want = np.stack([np.asarray(ImageEnhance.Sharpness(Image.fromarray(im[..., 0])).enhance(factor))
                     for im in smooth])[..., None].astype("float32")
    got = np_(aug.adjust_sharpness(smooth, np.full((3,), factor, "float32")))
    assert np.abs(got - want).max() <= 1.0  # PIL rounds to uint8
    assert np.abs(got - want).mean() < 0.3


def test_random_erasing_fills_one_rectangle(images):
    x = images.astype("float32")
    apply = ops.convert_to_tensor([True, True, False, True])
    out = np_(aug.random_erasing(x, apply, seed=3))
    np.testing.assert_array_equal(out[2], x[2])
    for i in (0, 1, 3):
        changed = out[i, ..., 0] != x[i, ..., 0]
        rows, cols = np.where(changed)
        box = np.zeros_like(changed)
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        assert (changed == box).mean() > 0.97  # noise may hit the old value on a few pixels
        assert 0.015 * 48 * 48 <= box.sum() <= 0.35 * 48 * 48


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_mix_images_and_labels_agree(kind):
    x = np.arange(6, dtype="float32")[:, None, None, None] * 10 + np.zeros((6, 16, 16, 1), "float32")
    onehot = np.eye(7, dtype="float32")[:6]
    mixed, labels = (np_(t) for t in aug.mix(x, onehot, kind, alpha=1.0, seed=5))
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    for i in range(6):
        partner = [j for j in range(6) if j != i and labels[i, j] > 0]
        j = partner[0] if partner else i
        if kind == "mixup":
            lam = labels[i, i] if j != i else 1.0
            np.testing.assert_allclose(mixed[i], lam * x[i] + (1 - lam) * x[j], atol=1e-3)
        elif j != i:  # the pasted area is the partner's label weight
            np.testing.assert_allclose((mixed[i] == x[j]).mean(), labels[i, j], atol=1e-6)
    with pytest.raises(UserError, match="'blend'"):
        aug.mix(x, onehot, "blend")


@pytest.mark.parametrize("fill_mode", ["constant", "nearest"])
def test_tensorflow_kernel_warp_equals_the_gathers(images, fill_mode, monkeypatch):
    """On TensorFlow without XLA the bilinear warp is TF's ImageProjectiveTransform kernel (3x
    faster); it must give the four gathers' pixels (crops, flips, rotations, scales, shifts)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's kernel is used on TensorFlow only")
    assert aug._tf_kernels()  # eager, or a step not traced for XLA
    rs = np.random.RandomState(3)
    x = rs.randint(0, 256, (16, 48, 48, 1)).astype("float32")
    f = lambda lo, hi: ops.convert_to_tensor(rs.uniform(lo, hi, 16).astype("float32"))  # noqa: E731
    flip = ops.convert_to_tensor(np.where(rs.rand(16) < 0.5, -1.0, 1.0).astype("float32"))
    params = aug.affine_params(angle=f(-0.4, 0.4), scale=f(0.8, 1.2), flip=flip, dx=f(-5, 5), dy=f(-5, 5))
    for size in (44, 48, (40, 46)):
        fast = np_(aug.affine_warp(x, params, size, "bilinear", fill_mode))
        with monkeypatch.context() as m:
            m.setattr(aug, "_tf_kernels", lambda: False)
            gathers = np_(aug.affine_warp(x, params, size, "bilinear", fill_mode))
        assert fast.shape == gathers.shape
        np.testing.assert_allclose(fast, gathers, atol=0.02)


def test_a_step_traced_for_xla_keeps_the_gathers():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's tracing")
    import tensorflow as tf

    seen = {}
    for jit in (False, True):
        tf.function(lambda: seen.__setitem__(jit, aug._tf_kernels()), jit_compile=jit)()
    assert seen == {False: True, True: False}
