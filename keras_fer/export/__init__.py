"""Export a run for downstream apps: TensorFlow SavedModel (raw images in: uint8, or float pixel
values in [0, 255], 1 or 3 channels; probabilities, class index and class name out), .keras,
TFLite float16 / int8, ONNX (needs keras_fer[onnx]); parity check. Only the formats asked for are
written; a release is read-only (its exports go to ``runs/export/<name>`` unless ``--out``).

CLI: ``python -m keras_fer.export MODEL_DIR [--format savedmodel,keras,tflite,onnx] [--out DIR]
[--force]``.
"""
from keras_fer.export.core import (
    DEFAULT_FORMATS,
    FORMATS,
    MIN_INT8_AGREEMENT,
    MIN_INT8_AGREEMENT_ALL,
    NEAR_TIE,
    ONNX_TOLERANCE,
    SAVEDMODEL_TOLERANCE,
    check_parity,
    export_run,
    int8_verdict,
)
from keras_fer.export.savedmodel import load_serving, write_savedmodel
from keras_fer.export.tflite import onnx_predict, tflite_predict, write_onnx, write_tflite

__all__ = ["DEFAULT_FORMATS", "FORMATS", "MIN_INT8_AGREEMENT", "MIN_INT8_AGREEMENT_ALL", "NEAR_TIE",
           "ONNX_TOLERANCE", "SAVEDMODEL_TOLERANCE", "check_parity", "export_run", "int8_verdict",
           "load_serving", "write_savedmodel", "onnx_predict", "tflite_predict", "write_onnx",
           "write_tflite"]
