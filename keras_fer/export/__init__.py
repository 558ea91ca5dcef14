"""Export a run for downstream apps: TensorFlow SavedModel (raw uint8 images in; probabilities,
class index and class name out), .keras, TFLite float16 / int8, ONNX (optional); parity check.

CLI: ``python -m keras_fer.export MODEL_DIR [--format savedmodel,keras,tflite,onnx] [--out DIR]``.
"""
from keras_fer.export.core import (FORMATS, MIN_INT8_AGREEMENT, MIN_INT8_AGREEMENT_ALL, NEAR_TIE,
                                   SAVEDMODEL_TOLERANCE, check_parity, export_run, int8_verdict)
from keras_fer.export.savedmodel import load_serving, write_savedmodel
from keras_fer.export.tflite import tflite_predict, write_onnx, write_tflite

__all__ = ["FORMATS", "MIN_INT8_AGREEMENT", "MIN_INT8_AGREEMENT_ALL", "NEAR_TIE",
           "SAVEDMODEL_TOLERANCE", "check_parity", "export_run", "int8_verdict",
           "load_serving", "write_savedmodel", "tflite_predict", "write_onnx", "write_tflite"]
