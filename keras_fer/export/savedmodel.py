"""The TensorFlow SavedModel: raw images in, probabilities / class index / class name out.

Endpoints (``keras.export.ExportArchive``, TensorFlow backend only):

* ``serve``: ``images`` [N, H, W, C] -> ``probabilities`` float32 [N, classes], ``class_index``
  int32 [N], ``class_name`` string [N]; the contract is ``CONTRACT`` below (also the
  SavedModel's ``contract`` endpoint). ``serving_default`` is ``serve`` on float32 input (a
  signature has one dtype; numpy arrays of any dtype are cast to it, uint8 exactly).
  Preprocessing inside: grayscale as PIL's "L", bilinear antialiased resize to 48x48, rounded
  to whole gray levels, then ``keras_fer.augment.fit_to`` the model's input size.
* ``model``: ``images`` float32 [N, h, w, 1] already at the model's input size, in [0, 255]
  -> ``probabilities``. TFLite and ONNX are converted from this endpoint.
* ``contract``: no input -> ``text``, the contract below.
* ``precision``: no input -> ``text``, "float32" or "bfloat16": what the network computes in
  (``keras_fer.export.fold``; batch norm is folded into the convolutions either way). A
  SavedModel written before it had this endpoint is float32.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from keras_fer.export.fold import inference_model
from keras_fer.predict.preprocess import FACE_SIZE, to_face48, to_gray

SERVE = "serve"
MODEL_ENDPOINT = "model"
CONTRACT_ENDPOINT = "contract"
PRECISION_ENDPOINT = "precision"
# the input dtypes `serve` is traced for: every other one finds no matching function
SERVE_DTYPES = ("uint8", "uint16", "int32", "int64", "float16", "float32", "float64")
CHANNELS = (1, 3)
CONTRACT = (
    "serve(images): images [N, H, W, C] (rank 4: one image is a batch of 1), N >= 0, H and W "
    ">= 1, C = 1 (gray) or 3 (RGB); dtype uint8, uint16, int32, int64, float16, float32 or "
    "float64 holding pixel values in [0, 255] (8-bit gray levels; float values are rounded; "
    "16-bit images: scale them to 8 bits first). Float images whose values all lie in (0, 1] "
    "are refused: they are [0, 1]-scaled images, which would be read as near-black (multiply "
    "them by 255); an all-zero image is black in either scale. Another rank or channel count, "
    "a value outside [0, 255] or NaN fails with InvalidArgumentError naming the fault; any "
    "other dtype (bool, int8, string, ...) finds no matching function. An empty batch gives "
    "empty outputs. Returns probabilities float32 [N, classes], class_index int32 [N], "
    "class_name string [N]. serving_default is serve on float32 input of rank 4.")
# The messages of the serving function's checks (tf.debugging assertions: InvalidArgumentError).
BAD_RANK = ("images: must have rank 4, [N, H, W, C] (one image: a batch of 1; gray: C = 1); "
            f"dtypes {', '.join(SERVE_DTYPES)}")
BAD_CHANNELS = "images: C (the last axis) must be 1 (gray) or 3 (RGB)"
BAD_SIZE = "images: height and width must be at least 1 pixel"
BAD_VALUES = "images: float values are pixel values and must be in [0, 255] (not NaN)"
BAD_INTEGERS = "images: integer values are 8-bit gray levels and must be in [0, 255]"
BAD_UNIT = ("images: float values all in (0, 1]: a [0, 1]-scaled image, which would be read as "
            "near-black; multiply it by 255 (pixel values are [0, 255])")


def model_size(model) -> tuple:
    """(height, width) of a model's input, from ``model.input_shape``."""
    return tuple(int(d) for d in model.input_shape[1:3])


def check_images(images):
    """``images`` as float32 [N, H, W, C] after the contract's checks (``CONTRACT``):
    assertions that fail with InvalidArgumentError when the rank, the channels, the size or a
    value is wrong, the rank first (the other checks read its axes). Inside a ``tf.function``
    the assertions run before anything that reads their result."""
    import tensorflow as tf

    shape, is_4d = tf.shape(images), tf.equal(tf.rank(images), 4)
    rank_ok = tf.debugging.Assert(is_4d, [BAD_RANK, "got shape", shape])
    # a reshape that is valid for any rank (never run but shape-checked where the rank is
    # wrong: a function is specialised to its input's shape) and gives the rest a static rank 4
    shape4 = tf.where(is_4d, tf.concat([shape, tf.ones([4], tf.int32)], 0)[:4], [-1, 1, 1, 1])
    with tf.control_dependencies([rank_ok]):
        images = tf.reshape(images, shape4)
        shape = tf.shape(images)
    channels_ok = tf.reduce_any(tf.equal(shape[-1], CHANNELS))
    size_ok = tf.logical_or(tf.equal(shape[0], 0), tf.reduce_all(shape[1:3] >= 1))
    checks = [tf.debugging.Assert(channels_ok, [BAD_CHANNELS, "got shape", shape]),
              tf.debugging.Assert(size_ok, [BAD_SIZE, "got shape", shape])]
    x = tf.cast(images, tf.float32)
    if images.dtype != tf.uint8:  # uint8 is always in range
        bad = BAD_VALUES if images.dtype.is_floating else BAD_INTEGERS
        low, high = tf.reduce_min(x), tf.reduce_max(x)
        values_ok = tf.reduce_all((x >= 0.0) & (x <= 255.0))  # False for NaN
        checks.append(tf.debugging.Assert(values_ok, [bad, "got min", low, "max", high]))
    if images.dtype.is_floating:
        unit = tf.logical_and(high > 0.0, high <= 1.0)
        checks.append(tf.debugging.Assert(tf.logical_not(unit), [BAD_UNIT, "got max", high]))
    with tf.control_dependencies(checks):
        return tf.identity(x)


def serving_fn(model, classes):
    """The serving function: images of any size (``CONTRACT``) -> dict of probabilities, index,
    name."""
    import tensorflow as tf
    from keras import ops

    from keras_fer.augment import fit_to

    names = tf.constant([str(c) for c in classes])
    size = model_size(model)

    def face48(x):  # 48x48 gray faces (FER2013's own) skip the antialiased resize, the identity
        # on them (whole gray levels): 1.05x the img/s of VGG13 x0.5 at batch 256 (2-core CPU)
        shape = tf.shape(x)
        is_face48 = tf.reduce_all(tf.equal(shape[1:], [FACE_SIZE, FACE_SIZE, 1]))
        return tf.cond(is_face48,
                       lambda: tf.reshape(to_gray(x), [-1, FACE_SIZE, FACE_SIZE, 1]),
                       lambda: to_face48(x))

    def classify(x):
        x = fit_to(face48(x), size)
        probs = ops.softmax(model(x, training=False), axis=-1)
        index = ops.cast(ops.argmax(probs, axis=-1), "int32")
        return {"probabilities": probs, "class_index": index,
                "class_name": tf.gather(names, index)}

    def nothing():  # the resize cannot take an empty batch of 0 x 0 images
        return {"probabilities": tf.zeros((0, len(names)), tf.float32),
                "class_index": tf.zeros((0,), tf.int32), "class_name": tf.zeros((0,), tf.string)}

    def serve(images):
        x = check_images(images)
        return tf.cond(tf.shape(x)[0] > 0, lambda: classify(x), nothing)

    return serve


def write_savedmodel(model, classes, path, precision="float32") -> Path:
    """Write the SavedModel to ``path`` (a temporary folder beside it, then renamed).

    Args:
        model: a float32 Keras model (TensorFlow backend) returning logits.
        classes: class names, in the model's output order.
        path: the SavedModel folder to write (replaced if present).
        precision: "float32", or "bfloat16" (faster on CPUs with AVX512_BF16 or AMX; TFLite and
            ONNX cannot be converted from it). Batch norm is folded either way
            (``keras_fer.export.fold.inference_model``).

    Returns:
        ``Path(path)``.

    Example:
        >>> write_savedmodel(rundir.load_model("runs/x"), rundir.class_names("runs/x"),
        ...                  "runs/x/export/savedmodel")
    """
    import keras
    import tensorflow as tf
    from keras import ops

    if len(classes) != int(model.output_shape[-1]):
        raise ValueError(f"{len(classes)} class names for a model with "
                         f"{model.output_shape[-1]} outputs")
    model = inference_model(model, precision)
    h, w = model_size(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    serve = tf.function(serving_fn(model, classes))
    for dtype in SERVE_DTYPES:  # one traced graph per dtype, so no input is cast before the checks;
        # any rank, so that another one gets BAD_RANK, not "no matching concrete function"
        serve.get_concrete_function(tf.TensorSpec(None, dtype, name="images"))
    archive.add_endpoint(SERVE, serve)
    archive.add_endpoint("serving_default", serving_fn(model, classes), input_signature=[
        tf.TensorSpec([None, None, None, None], tf.float32, name="images")])
    archive.add_endpoint(
        MODEL_ENDPOINT,
        lambda x: {"probabilities": ops.softmax(model(x, training=False), axis=-1)},
        input_signature=[tf.TensorSpec([None, h, w, 1], tf.float32, name="images")])
    archive.add_endpoint(CONTRACT_ENDPOINT, lambda: {"text": tf.constant(CONTRACT)},
                         input_signature=[])
    archive.add_endpoint(PRECISION_ENDPOINT, lambda: {"text": tf.constant(precision)},
                         input_signature=[])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        archive.write_out(os.fspath(tmp / "sm"), verbose=False)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp / "sm", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def served_precision(loaded) -> str:
    """What a loaded SavedModel (``load_serving``) computes in: its ``precision`` endpoint,
    "float32" when it has none (written before the endpoint existed)."""
    endpoint = getattr(loaded, PRECISION_ENDPOINT, None)
    return "float32" if endpoint is None else endpoint()["text"].numpy().decode()


def load_serving(path):
    """Load an exported SavedModel; returns the object with ``.serve`` and ``.model``."""
    import tensorflow as tf

    return tf.saved_model.load(os.fspath(path))
