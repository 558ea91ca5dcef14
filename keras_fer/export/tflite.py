"""TFLite (float16, int8) and optional ONNX, converted from the SavedModel's ``model`` endpoint.

Keras 3 models do not convert through ``TFLiteConverter.from_keras_model``; converting the
exported SavedModel's float endpoint freezes the variables and works. ONNX goes through tf2onnx
(>= 1.17, the first that installs beside TensorFlow 2.20+; Keras 3's own
``model.export(format="onnx")`` calls tf2onnx too on TensorFlow) and is checked with
onnxruntime: the optional extra ``keras_fer[onnx]`` (requirements-onnx.txt).
"""
from __future__ import annotations

import os

import numpy as np

from keras_fer.errors import UserError
from keras_fer.export.savedmodel import MODEL_ENDPOINT
from keras_fer.io_utils import atomic_path

QUANTIZATIONS = ("float16", "int8")
ONNX_PACKAGES = ("tf2onnx", "onnx", "onnxruntime")  # convert, write, run the parity check
ONNX_PIP = 'pip install "keras_fer[onnx]" (in a checkout: pip install -r requirements-onnx.txt)'


def write_tflite(savedmodel_dir, path, quantization, representative=None) -> None:
    """Convert the SavedModel's ``model`` endpoint to a ``.tflite`` file.

    Args:
        savedmodel_dir: a folder written by ``write_savedmodel``.
        path: the ``.tflite`` file to write (atomically).
        quantization: "float16" (float16 weights) or "int8" (full-integer kernels and
            activations, float32 input and output).
        representative: for int8, float32 images (N, h, w, 1) at the model's input size in
            [0, 255], used to calibrate the activation ranges (a few hundred Training images).
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    converter = tf.lite.TFLiteConverter.from_saved_model(
        os.fspath(savedmodel_dir), signature_keys=[MODEL_ENDPOINT])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    else:
        if representative is None or len(representative) == 0:
            raise ValueError("int8 quantization needs representative images")
        rep = np.asarray(representative, "float32")
        converter.representative_dataset = lambda: ([rep[i:i + 1]] for i in range(len(rep)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    content = converter.convert()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(content)


def tflite_predict(path, images, batch_size=256) -> np.ndarray:
    """Probabilities of a ``.tflite`` model on float32 images (N, h, w, 1) in [0, 255]."""
    from keras_fer.predict.classifier import litert_interpreter

    interp = litert_interpreter(path)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    images = np.asarray(images, "float32")
    parts = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        interp.resize_tensor_input(inp["index"], list(batch.shape))
        interp.allocate_tensors()
        interp.set_tensor(inp["index"], batch)
        interp.invoke()
        parts.append(np.array(interp.get_tensor(out["index"])))
    return np.concatenate(parts)


def onnx_missing() -> list:
    """The packages of ``ONNX_PACKAGES`` that are not installed."""
    import importlib.util

    return [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]


def onnx_available() -> bool:
    """Whether the optional packages ONNX export and its parity check need are installed."""
    return not onnx_missing()


def require_onnx() -> None:
    """A UserError naming the missing packages and the pip command."""
    missing = onnx_missing()
    if missing:
        raise UserError(f"--format onnx needs {', '.join(missing)}, which "
                        f"{'is' if len(missing) == 1 else 'are'} not installed: {ONNX_PIP}")


def onnx_predict(path, images, batch_size=256) -> np.ndarray:
    """Probabilities of a ``model.onnx`` (onnxruntime, CPU) on float32 images (N, h, w, 1) in
    [0, 255]."""
    import onnxruntime

    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    images = np.asarray(images, "float32")
    parts = [session.run(None, {name: images[i:i + batch_size]})[0]
             for i in range(0, len(images), batch_size)]
    return np.concatenate(parts)


def write_onnx(savedmodel_dir, path) -> None:
    """ONNX through tf2onnx from the SavedModel's ``model`` endpoint, written atomically.

    Raises:
        UserError: the onnx extra is not installed (the message gives ``ONNX_PIP``).
        RuntimeError: the conversion failed (tf2onnx's last line of errors).
    """
    import subprocess
    import sys

    require_onnx()
    with atomic_path(path) as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--saved-model", os.fspath(savedmodel_dir),
             "--signature_def", MODEL_ENDPOINT, "--output", tmp],
            capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            raise RuntimeError(f"{path}: tf2onnx failed: "
                               f"{lines[-1] if lines else 'exit code ' + str(proc.returncode)}")
