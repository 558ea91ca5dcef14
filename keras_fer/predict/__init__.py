"""Facial expression prediction on images, folders and videos, with offline face detection.

CLI: ``python -m keras_fer.predict MODEL_DIR INPUT... [--json] [--out DIR] [--no-detect]``.
"""
from keras_fer.predict.core import Predictor, expand_inputs, read_image
from keras_fer.predict.faces import crop_faces, make_detector
from keras_fer.predict.preprocess import faces_uint8, to_face48, to_gray
from keras_fer.predict.video import moving_average, predict_video

__all__ = ["Predictor", "expand_inputs", "read_image", "crop_faces", "make_detector",
           "faces_uint8", "to_face48", "to_gray", "moving_average", "predict_video"]
