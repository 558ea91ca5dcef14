"""The TensorFlow SavedModel: raw uint8 images in, probabilities / class index / class name out.

Endpoints (``keras.export.ExportArchive``, TensorFlow backend only):

* ``serve`` (also ``serving_default``): ``images`` uint8 [N, H, W, C], any H and W, C = 1 or 3
  (2 and 4 work too: the alpha channel is ignored) -> ``probabilities`` float32 [N, classes],
  ``class_index`` int32 [N], ``class_name`` string [N]. Preprocessing inside: grayscale as
  PIL's "L", bilinear antialiased resize to 48x48, then ``keras_fer.augment.fit_to`` the
  model's input size.
* ``model``: ``images`` float32 [N, h, w, 1] already at the model's input size, in [0, 255]
  -> ``probabilities``. TFLite and ONNX are converted from this endpoint.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from keras_fer.predict.preprocess import to_face48

SERVE = "serve"
MODEL_ENDPOINT = "model"


def model_size(model) -> tuple:
    """(height, width) of a model's input, from ``model.input_shape``."""
    return tuple(int(d) for d in model.input_shape[1:3])


def serving_fn(model, classes):
    """The serving function: uint8 images of any size -> dict of probabilities, index, name."""
    import tensorflow as tf
    from keras import ops

    from keras_fer.augment import fit_to

    names = tf.constant([str(c) for c in classes])
    size = model_size(model)

    def serve(images):
        x = fit_to(to_face48(images), size)
        probs = ops.softmax(model(x, training=False), axis=-1)
        index = ops.cast(ops.argmax(probs, axis=-1), "int32")
        return {"probabilities": probs, "class_index": index,
                "class_name": tf.gather(names, index)}

    return serve


def write_savedmodel(model, classes, path) -> Path:
    """Write the SavedModel to ``path`` (a temporary folder beside it, then renamed).

    Args:
        model: a Keras model (TensorFlow backend) returning logits.
        classes: class names, in the model's output order.
        path: the SavedModel folder to write (replaced if present).

    Returns:
        ``Path(path)``.
    """
    import keras
    import tensorflow as tf
    from keras import ops

    if len(classes) != int(model.output_shape[-1]):
        raise ValueError(f"{len(classes)} class names for a model with "
                         f"{model.output_shape[-1]} outputs")
    h, w = model_size(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVE, serving_fn(model, classes), input_signature=[
        tf.TensorSpec([None, None, None, None], tf.uint8, name="images")])
    archive.add_endpoint(
        MODEL_ENDPOINT,
        lambda x: {"probabilities": ops.softmax(model(x, training=False), axis=-1)},
        input_signature=[tf.TensorSpec([None, h, w, 1], tf.float32, name="images")])
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


def load_serving(path):
    """Load an exported SavedModel; returns the object with ``.serve`` and ``.model``."""
    import tensorflow as tf

    return tf.saved_model.load(os.fspath(path))
