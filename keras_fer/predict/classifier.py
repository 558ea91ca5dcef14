"""The model behind a Predictor: a run directory's ``model.keras`` or an exported SavedModel.

Both take uint8 48x48 gray faces and give softmax probabilities, in batches: the same numbers
to 1e-5 (the export's parity check).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_fer import rundir
from keras_fer.errors import UserError, UserFileNotFound

SAVEDMODEL_FILE = "saved_model.pb"
LABELS_FILE = "labels.txt"  # written beside the SavedModel by keras_fer.export
BATCH_SIZE = 256


class KerasClassifier:
    """A run directory's ``model.keras`` (any backend), with its class names from meta.json.

    Args:
        run_dir: a run directory (``keras_fer.rundir``).

    Example:
        >>> KerasClassifier("saved_models/best")(np.zeros((1, 48, 48), "uint8")).shape
        (1, 7)
    """

    def __init__(self, run_dir):
        self.source = Path(run_dir)
        self.model = rundir.load_model(run_dir)
        self.classes = rundir.class_names(run_dir)

    def __call__(self, faces) -> np.ndarray:
        from keras_fer.evaluate import predict_proba

        return np.asarray(predict_proba(self.model, faces, batch_size=BATCH_SIZE))


class SavedModelClassifier:
    """An exported SavedModel's ``serve`` endpoint, with the class names of its ``labels.txt``.

    Needs TensorFlow installed (whatever the Keras backend); no keras_fer layer is involved.

    Args:
        savedmodel_dir: a folder written by ``keras_fer.export`` (``saved_model.pb``).

    Example:
        >>> SavedModelClassifier("saved_models/best/export/savedmodel").classes[:2]
        ['angry', 'disgust']
    """

    def __init__(self, savedmodel_dir):
        import tensorflow as tf

        self.source = Path(savedmodel_dir)
        self.classes = savedmodel_classes(self.source)
        try:
            self.loaded = tf.saved_model.load(os.fspath(self.source))
        except (OSError, ValueError) as e:
            raise UserError(f"{self.source}: cannot load SavedModel: "
                            f"{str(e).splitlines()[0]}") from None
        if not hasattr(self.loaded, "serve"):
            raise UserError(f"{self.source}: this SavedModel has no `serve` endpoint (export it "
                            "with python -m keras_fer.export)")

    def __call__(self, faces) -> np.ndarray:
        faces = np.asarray(faces, "uint8")[..., None]
        parts = [self.loaded.serve(faces[i:i + BATCH_SIZE])["probabilities"].numpy()
                 for i in range(0, len(faces), BATCH_SIZE)]
        return np.concatenate(parts).astype("float64")


def savedmodel_classes(savedmodel_dir) -> list:
    """Class names from ``labels.txt`` in the SavedModel folder or the export folder above it:
    the SavedModel gives only the winning name, and a label is never guessed."""
    savedmodel_dir = Path(savedmodel_dir)
    for path in (savedmodel_dir / LABELS_FILE, savedmodel_dir.parent / LABELS_FILE):
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            if names and all(names):
                return names
            raise UserError(f"{path}: expected one class name per line, without blank lines")
    raise UserError(f"{savedmodel_dir}: no {LABELS_FILE} beside the SavedModel, so its class "
                    f"names are unknown (python -m keras_fer.export writes one)")


def model_kind(path) -> tuple:
    """("keras", run directory) or ("savedmodel", SavedModel folder) of a model path, without
    loading anything (a CLI checks its argument before importing TensorFlow); UserError when
    ``path`` is neither."""
    path = Path(path)
    if (path / rundir.MODEL_FILE).is_file():
        return "keras", path
    for candidate in (path, path / "savedmodel"):
        if (candidate / SAVEDMODEL_FILE).is_file():
            return "savedmodel", candidate
    if not path.exists():
        raise UserFileNotFound(f"{path}: no such run directory or SavedModel")
    raise UserError(f"{path}: neither a run directory ({rundir.MODEL_FILE} is missing) nor an "
                    f"exported SavedModel ({SAVEDMODEL_FILE} is missing)")


def open_classifier(path):
    """A run directory (``model.keras``), an exported SavedModel folder, or an export folder
    holding ``savedmodel/`` -> a classifier with ``.classes`` and ``__call__(faces)``.

    Example:
        >>> clf = open_classifier("saved_models/best/export/savedmodel")
        >>> clf(np.zeros((2, 48, 48), "uint8")).shape
        (2, 7)
    """
    kind, folder = model_kind(path)
    return KerasClassifier(folder) if kind == "keras" else SavedModelClassifier(folder)


def is_model_dir(path) -> bool:
    """Whether ``open_classifier`` can read ``path`` (so a CLI can tell it from an input)."""
    try:
        return Path(path).is_dir() and bool(model_kind(path))
    except UserError:
        return False
