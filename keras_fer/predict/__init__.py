"""Facial expression prediction on images, folders, videos and live streams, with offline face
detection.

Python: ``keras_fer.load()`` -> a ``Predictor`` (``detect_emotions``, ``predict_faces``).
CLI: ``keras-fer predict [MODEL_DIR] INPUT... | --camera SOURCE [--json] [--out DIR]
[--no-detect]`` (or ``python -m keras_fer.predict``).
"""
from keras_fer.predict.core import Predictor, crops_to_faces, expand_inputs, read_image, to_rgb
from keras_fer.predict.faces import crop_faces, find_faces, make_detector
from keras_fer.predict.preprocess import faces_uint8, to_face48, to_gray
from keras_fer.predict.video import TrailingMean, frame_rows, moving_average, predict_video

__all__ = ["Predictor", "crops_to_faces", "expand_inputs", "read_image", "to_rgb", "crop_faces",
           "find_faces",
           "make_detector", "faces_uint8", "to_face48", "to_gray", "TrailingMean", "frame_rows",
           "moving_average", "predict_video"]
