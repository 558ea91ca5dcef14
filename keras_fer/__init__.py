"""keras_fer: facial expression recognition with Keras 3, from data to a deployed model.

In Python::

    import keras_fer
    rec = keras_fer.load()                       # the released model that ships with keras_fer
    rec.detect_emotions("photo.jpg")             # [{"box": (x, y, w, h), "confidence": 0.99,
                                                 #   "crop_box": (x, y, w, h), "emotions": {...},
                                                 #   "label": "happy"}, ...]
    rec.predict_faces(crops)                     # (N, 7) probabilities of face crops

Subpackages (each a ``python -m keras_fer.<name>`` CLI, and a ``keras-fer <name>`` subcommand):
``data``, ``augment``, ``models``, ``layers``, ``losses``, ``train``, ``evaluate``,
``visualize``, ``export``, ``predict``, ``bench``, ``experiments``.
"""
from keras_fer import quiet as _quiet

# Before anything imports TensorFlow: every CLI imports this package first.
_quiet.install()

__version__ = "0.1.0"  # the one place: pyproject.toml reads it (tool.setuptools.dynamic)

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def load(path=None, detector="auto", margin=0.0):
    """A ``keras_fer.predict.Predictor``: image -> faces and their emotions, offline.

    Args:
        path: a run directory, an exported SavedModel folder (or the export folder holding
            ``savedmodel/``); None: the released model that ships with keras_fer
            (``keras_fer.resources.release_dir()``).
        detector: "auto" (MTCNN where keras_fer[mtcnn] is installed, else Haar), "mtcnn",
            "haar", a callable ``rgb -> [(x, y, w, h), ...]``, or None to classify whole
            images as faces.
        margin: fraction of each face box added on each side before cropping (the default
            is ``keras_fer.predict.faces.MARGIN``, chosen on the scene benchmark).

    Example:
        >>> rec = keras_fer.load()
        >>> rec.detect_emotions(np.zeros((240, 320, 3), "uint8"))
        []
    """
    from keras_fer.predict.core import Predictor
    from keras_fer.resources import release_dir

    return Predictor(release_dir() if path is None else path, detector=detector, margin=margin)
