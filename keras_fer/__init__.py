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
# Importing keras_fer changes nothing in the host process (environment, import hooks, file
# descriptors): the quiet TensorFlow start belongs to the CLIs (keras_fer.errors.cli_main).
from keras_fer.emotions import EMOTIONS as EMOTIONS  # re-exported: keras_fer.EMOTIONS

__version__ = "0.1.0"  # the one place: pyproject.toml reads it (tool.setuptools.dynamic)


# margin: keras_fer.predict.faces.MARGIN, spelled out so that importing keras_fer loads no numpy
# (tests/predict/test_detectors.py checks that the two agree)
def load(path=None, detector="auto", margin=0.0, engine=None):
    """A ``keras_fer.predict.Predictor``: image -> faces and their emotions, offline.

    Needs neither TensorFlow nor Keras for the packaged model: its default engine is LiteRT
    running the int8 TFLite (``pip install keras_fer`` installs just that).

    Args:
        path: a packaged model's name (``keras_fer.resources.MODELS``: "fast", "accurate"), a run
            directory, an export folder, a SavedModel folder or a ``.tflite`` file; None:
            the default packaged model (``keras_fer.resources.DEFAULT_MODEL``).
        detector: "auto" (MTCNN where keras_fer[mtcnn] is installed, else Haar), "mtcnn",
            "haar", a callable ``rgb -> [(x, y, w, h), ...]``, or None to classify whole
            images as faces.
        margin: fraction of each face box added on each side before cropping, in [0, 1]
            (the default, ``keras_fer.predict.faces.MARGIN``, was chosen on the scene
            benchmark, ``python -m keras_fer.bench.scenes``).
        engine: "litert" (the int8 TFLite), "savedmodel" or "keras" (``model.keras``; both
            need ``keras_fer[train]``, and a run directory or a checkout: the wheel carries
            only the int8 TFLite); None: the fastest faithful one there (LiteRT where the int8
            model passed the export's parity check).

    Example:
        >>> rec = keras_fer.load()
        >>> rec.detect_emotions(np.zeros((240, 320, 3), "uint8"))
        []
    """
    from keras_fer.predict.classifier import find_engines
    from keras_fer.predict.core import Predictor
    from keras_fer.resources import DEFAULT_MODEL, MODELS, release_dir

    if path is None or (isinstance(path, str) and path in MODELS):
        name, path = path or DEFAULT_MODEL, release_dir(path)
        if engine in ("keras", "savedmodel") and engine not in find_engines(path):
            from keras_fer.errors import UserError

            raise UserError(f"the packaged model {name!r} is installed as its int8 TFLite only "
                            f"(engine 'litert'): engine {engine!r} needs its run directory (in a "
                            f"checkout, {MODELS[name][1]}) and keras_fer[train]")
    return Predictor(path, detector=detector, margin=margin, engine=engine)
