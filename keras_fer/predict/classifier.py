"""The model behind a Predictor, run by one of three engines:

* ``"litert"``: the export's int8 TFLite (``export/model_int8.tflite``) run by LiteRT
  (``ai-edge-litert``, no TensorFlow needed), the fastest and the one a light install has;
* ``"savedmodel"``: the exported SavedModel (needs TensorFlow);
* ``"keras"``: the run directory's ``model.keras`` (needs Keras and a backend).

Each takes uint8 48x48 gray faces and gives softmax probabilities, in batches. SavedModel and
``.keras`` agree to 1e-5; int8 agrees with ``.keras`` under the export's top-1 rule
(``keras_fer.export.core.int8_verdict``), which the export checks and writes to parity.json.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from keras_fer import rundir
from keras_fer.errors import UserError, UserFileNotFound
from keras_fer.predict.preprocess import FACE_SIZE, resize_weights

SAVEDMODEL_FILE = "saved_model.pb"
LABELS_FILE = "labels.txt"  # written beside the SavedModel by keras_fer.export
INT8_FILE = "model_int8.tflite"
PARITY_FILE = "parity.json"  # keras_fer.export.core.PARITY_FILE
BATCH_SIZE = 256
# LiteRT's threads: the cores this process may use, at most 4. Its default (-1) ran one thread:
# on 2 idle cores the fast model took 0.39 ms a face at batch 1 and gave 3,000 img/s at batch
# 64 with one, 0.20-0.25 ms and 5,800-6,000 img/s with two (2026-12-05); past 4 a 48x48 face
# has too little work to share
MAX_THREADS = 4
ENGINES = ("litert", "savedmodel", "keras")
LITERT_PIP = "pip install ai-edge-litert"


def cpu_threads() -> int:
    """The cores this process may run on (its affinity, where the OS says), at most
    ``MAX_THREADS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_THREADS, cores or 1))


def litert_interpreter(path, num_threads=None):
    """A TFLite interpreter of ``path`` on ``num_threads`` threads (None: ``cpu_threads()``):
    LiteRT's (ai-edge-litert), else TensorFlow's ``tf.lite`` where only TensorFlow is
    installed; UserError when neither is."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            import tensorflow as tf
        except ImportError:
            raise UserError(f"{path}: running a TFLite model needs LiteRT, which is not "
                            f"installed: {LITERT_PIP}") from None
        Interpreter = tf.lite.Interpreter
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Interpreter(model_path=os.fspath(path),
                               num_threads=cpu_threads() if num_threads is None else num_threads)
    except (ValueError, RuntimeError) as e:
        raise UserError(f"{path}: cannot load TFLite model: {str(e).splitlines()[0]}") from None


def crop_offsets(size) -> tuple:
    """(top, left) of the centre crop of ``size`` (h, w) from a 48x48 face, as
    ``keras_fer.augment.ops.center_offsets`` (which cannot be imported without Keras)."""
    return tuple(int(round((FACE_SIZE - min(d, FACE_SIZE)) / 2.0)) for d in size)


def fit_faces(faces, size) -> np.ndarray:
    """NumPy ``keras_fer.augment.fit_to`` of uint8 48x48 faces (N, 48, 48) -> float32
    (N, h, w, 1): a centre crop where the input is smaller (44x44 for most models), a bilinear
    resize where it is larger."""
    h, w = size
    x = np.asarray(faces, "float32")
    top, left = crop_offsets(size)
    x = x[:, top:top + min(h, FACE_SIZE), left:left + min(w, FACE_SIZE)]
    if h > FACE_SIZE or w > FACE_SIZE:  # upsampling: the triangle kernel is plain bilinear
        x = np.einsum("yh,nhw,xw->nyx", resize_weights(x.shape[1], h), x,
                      resize_weights(x.shape[2], w))
    return np.ascontiguousarray(x[..., None], "float32")


class LiteRTClassifier:
    """A ``.tflite`` model (float32 input (N, h, w, 1) in [0, 255], probabilities out) run by
    LiteRT, with its class names.

    The interpreter is resized to each batch (one invoke for up to ``BATCH_SIZE`` faces; on 2
    cores the release's int8 model gave ~940 img/s against ~730 for one invoke per face, on one
    thread) and keeps its size while the batch size repeats.

    Args:
        tflite_path: a ``.tflite`` file written by ``keras_fer.export``.
        classes: its class names.
        num_threads: LiteRT's threads (None: ``cpu_threads()``).

    Example:
        >>> clf = LiteRTClassifier("saved_models/best/export/model_int8.tflite", EMOTIONS)
        >>> clf(np.zeros((2, 48, 48), "uint8")).shape
        (2, 7)
    """

    engine = "litert"

    def __init__(self, tflite_path, classes, num_threads=None):
        self.source = Path(tflite_path)
        self.classes = list(classes)
        self.interpreter = litert_interpreter(self.source, num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        shape = [int(d) for d in self.input["shape"]]
        if len(shape) != 4 or shape[-1] != 1:
            raise UserError(f"{self.source}: expected a model of gray images (N, h, w, 1), its "
                            f"input is {shape}")
        outputs = int(self.output["shape"][-1])
        if outputs != len(self.classes):
            raise UserError(f"{self.source}: {len(self.classes)} class names for a model of "
                            f"{outputs} outputs")
        self.size = tuple(shape[1:3])
        # (top, left) of fit_faces' centre crop where the model's input is no larger than a face
        self.crop = None if max(self.size) > FACE_SIZE else crop_offsets(self.size)
        self.batch = None  # the batch size the interpreter is allocated for

    def _invoke(self, faces) -> np.ndarray:
        """Probabilities of uint8 faces (n, 48, 48), n <= ``BATCH_SIZE``, in one invoke."""
        if self.batch != len(faces):
            self.interpreter.resize_tensor_input(self.input["index"], [len(faces), *self.size, 1])
            self.interpreter.allocate_tensors()
            self.batch = len(faces)
        if self.crop is not None:
            # the centre crop written straight into the input tensor (uint8 -> float32 on
            # assignment): no temporary arrays, which at batch 1 took a third of a face's time
            # (0.28 ms against 0.19 on 2 cores, 2026-12-05). The view is dropped before invoke.
            (top, left), (h, w) = self.crop, self.size
            self.interpreter.tensor(self.input["index"])()[..., 0] = \
                faces[:, top:top + h, left:left + w]
        else:
            self.interpreter.set_tensor(self.input["index"], fit_faces(faces, self.size))
        self.interpreter.invoke()
        probs = np.array(self.interpreter.get_tensor(self.output["index"]), "float64")
        # int8 probabilities come in steps of 1/256 and sum to 1 only within a few steps
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)

    def __call__(self, faces) -> np.ndarray:
        faces = np.asarray(faces, "uint8")
        return np.concatenate([self._invoke(faces[i:i + BATCH_SIZE])
                               for i in range(0, len(faces), BATCH_SIZE)])


class KerasClassifier:
    """A run directory's ``model.keras`` (any backend), with its class names from meta.json.

    Args:
        run_dir: a run directory (``keras_fer.rundir``).

    Example:
        >>> KerasClassifier("saved_models/best")(np.zeros((1, 48, 48), "uint8")).shape
        (1, 7)
    """

    engine = "keras"

    def __init__(self, run_dir):
        require("keras", "keras")
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

    engine = "savedmodel"

    def __init__(self, savedmodel_dir):
        require("savedmodel", "tensorflow")
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


def require(engine, module) -> None:
    """UserError when ``module``, which ``engine`` needs, is not installed (a light install
    has LiteRT only)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(f"engine {engine!r} needs {module}, which is not installed: "
                        f'pip install "keras_fer[train]" (or use engine="litert")')


def labels(folder) -> list:
    """Class names from ``labels.txt`` in ``folder`` or the export folder above it (a
    SavedModel or a TFLite file gives no names, and a label is never guessed)."""
    folder = Path(folder)
    for path in (folder / LABELS_FILE, folder.parent / LABELS_FILE):
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            if names and all(names):
                return names
            raise UserError(f"{path}: expected one class name per line, without blank lines")
    raise UserError(f"{folder}: no {LABELS_FILE} beside the model, so its class names are "
                    f"unknown (python -m keras_fer.export writes one)")


savedmodel_classes = labels


def int8_passed(tflite_path) -> bool:
    """Whether the export's parity.json beside ``tflite_path`` says the int8 model passed the
    top-1 rule against ``.keras`` (``keras_fer.export.core.int8_verdict``)."""
    import json

    try:
        report = json.loads((Path(tflite_path).parent / PARITY_FILE).read_text("utf-8"))
        return report["tflite_int8"]["ok"] is True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def find_engines(path) -> dict:
    """{engine: artifact} of what ``path`` holds, without loading anything: ``"keras"``: the
    run directory; ``"litert"``: the ``model_int8.tflite`` of the export folder (a run
    directory's ``export/``), or the ``.tflite`` file itself; ``"savedmodel"``: the SavedModel
    folder (``path`` or its ``savedmodel/``)."""
    path = Path(path)
    if path.suffix == ".tflite" and path.is_file():
        return {"litert": path}
    found = {}
    if (path / rundir.MODEL_FILE).is_file():
        found["keras"] = path
    # a run directory's export/ (a packaged model has its meta.json, not its model.keras)
    is_run = found or (path / rundir.META_FILE).is_file()
    for export in (path, path / "export") if is_run else (path,):
        if (export / INT8_FILE).is_file():
            found.setdefault("litert", export / INT8_FILE)
        for folder in (export, export / "savedmodel"):
            if (folder / SAVEDMODEL_FILE).is_file():
                found.setdefault("savedmodel", folder)
    return found


def model_kind(path, engine=None) -> tuple:
    """(engine, artifact) that ``open_classifier`` would run, without loading anything (a CLI
    checks its argument before importing TensorFlow).

    ``engine=None`` picks the fastest faithful one: LiteRT where the int8 model passed the
    export's parity check (or is all there is), else ``.keras``, else the SavedModel.

    Raises:
        UserError: ``path`` holds no model, or not one for ``engine``.
    """
    if engine is not None and engine not in ENGINES:
        raise UserError(f"engine: unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    path = Path(path)
    found = find_engines(path)
    if engine is None:
        litert = found.get("litert")
        order = (["litert"] if litert and (int8_passed(litert) or len(found) == 1) else []) + [
            "keras", "savedmodel"]
        engine = next((e for e in order if e in found), None)
    if engine in found:
        return engine, found[engine]
    if not path.exists():
        raise UserFileNotFound(f"{path}: no such run directory or exported model")
    if found:
        raise UserError(f"{path}: no model for engine {engine!r} here (it has "
                        f"{', '.join(sorted(found))}): {ENGINE_FILES[engine]}")
    raise UserError(f"{path}: neither a run directory ({rundir.MODEL_FILE} is missing) nor an "
                    f"export ({INT8_FILE} or {SAVEDMODEL_FILE} is missing)")


ENGINE_FILES = {"keras": f"it needs the run directory's {rundir.MODEL_FILE}",
                "litert": f"it needs export/{INT8_FILE} (python -m keras_fer.export)",
                "savedmodel": f"it needs export/savedmodel/{SAVEDMODEL_FILE} "
                              "(python -m keras_fer.export)"}


def open_classifier(path, engine=None):
    """A model path (``model_kind``) -> a classifier with ``.engine``, ``.classes``, ``.source``
    and ``__call__(uint8 faces (N, 48, 48)) -> probabilities (N, classes)``.

    Example:
        >>> clf = open_classifier("saved_models/best", engine="litert")
        >>> clf(np.zeros((2, 48, 48), "uint8")).shape
        (2, 7)
    """
    engine, artifact = model_kind(path, engine)
    if engine == "keras":
        return KerasClassifier(artifact)
    if engine == "savedmodel":
        return SavedModelClassifier(artifact)
    run = Path(path) if (Path(path) / rundir.META_FILE).is_file() else None
    try:
        names = labels(artifact.parent)
    except UserError:
        if run is None:
            raise
        names = rundir.class_names(run)
    return LiteRTClassifier(artifact, names)


def is_model_dir(path) -> bool:
    """Whether ``open_classifier`` can read ``path``, a folder or a ``.tflite`` file (so a CLI
    can tell it from an input)."""
    path = Path(path)
    return (path.is_dir() or path.suffix == ".tflite") and bool(find_engines(path))
