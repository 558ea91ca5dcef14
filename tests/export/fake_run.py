"""Helpers shared by tests/export and tests/predict (loaded by path: load_fake_run in
tests/export/conftest.py). A tiny model in a fake run directory (model.keras + meta.json),
independent of train: fitted for a few epochs on synthetic class prototypes so its predictions
are decisive (as a trained model's are), which is what the TFLite int8 top-1 agreement check
assumes."""
import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np

CLASSES = ["angry", "fear", "happy", "sad", "surprise", "neutral"]  # as if "disgust" were dropped


def synthetic_faces(n, seed=0, num_classes=len(CLASSES)):
    """uint8 (n, 48, 48) images and int labels: a smooth per-class 6x6 pattern (fixed seed),
    upscaled, with per-image brightness, gradient and noise."""
    protos = np.random.default_rng(1234).uniform(40, 215, (num_classes, 6, 6))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    big = np.kron(protos[labels], np.ones((8, 8)))
    ramp = np.linspace(-30, 30, 48)[None, None, :] * rng.uniform(-1, 1, (n, 1, 1))
    noise = rng.normal(0, 12, (n, 48, 48)) + rng.uniform(-25, 25, (n, 1, 1))
    return np.clip(big + ramp + noise, 0, 255).astype("uint8"), labels


_MADE = {}  # (settings, backend) -> a pristine run folder of this process


def tiny_run_dir(path, input_size=44, classes=CLASSES, seed=0, epochs=4):
    """The tiny run (model.keras + meta.json) in ``path``: fitted once per process for each
    setting (a dozen test modules ask for the same one), then copied."""
    import keras

    key = (input_size, tuple(classes), seed, epochs, keras.backend.backend())
    if key not in _MADE:
        _MADE[key] = _fit_run_dir(Path(tempfile.mkdtemp(prefix="tiny_run_")) / "run", *key[:4])
        atexit.register(shutil.rmtree, _MADE[key].parent, True)
    shutil.copytree(_MADE[key], path, dirs_exist_ok=True)
    return Path(path)


def _fit_run_dir(path, input_size, classes, seed, epochs):
    import keras
    from keras import layers

    from keras_fer import rundir
    from keras_fer.augment import fit_to

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_size, input_size, 1))
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = layers.Conv2D(4, 5, strides=2, activation="relu")(x)
    x = layers.MaxPooling2D(4)(x)
    x = layers.Flatten(name="features")(x)
    outputs = layers.Dense(len(classes), name="predictions")(x)
    model = keras.Model(inputs, outputs)
    if epochs:
        images, labels = synthetic_faces(384, seed=seed + 100, num_classes=len(classes))
        model.compile(keras.optimizers.Adam(0.03),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(fit_to(images, input_size), labels, epochs=epochs, batch_size=64, verbose=0)
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / rundir.MODEL_FILE)
    rundir.write_meta(path, {"classes": list(classes), "input_shape": [input_size, input_size, 1],
                             "backend": keras.backend.backend()})
    return path
