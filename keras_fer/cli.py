"""``keras-fer SUBCOMMAND [ARGS...]`` (or ``python -m keras_fer``): one command for every CLI.

Each subcommand runs the module that ``python -m`` would run, with the same arguments, so
``keras-fer train --auto`` is ``python -m keras_fer.train --auto``.

Example::

    keras-fer predict photo.jpg            # the released model that ships with keras_fer
    keras-fer predict --camera 0
    keras-fer train --auto --data data
"""
from __future__ import annotations

import runpy
import sys

from keras_fer import __version__, errors
from keras_fer.errors import cli_main

# subcommand -> (module run as __main__, one line for --help)
COMMANDS = {
    "data": ("keras_fer.data", "prepare FER2013 and other data sets; per-class statistics"),
    "augment": ("keras_fer.augment", "preview a config's augmentation"),
    "models": ("keras_fer.models", "list the model zoo"),
    "train": ("keras_fer.train", "train one run (or k folds) into a run directory"),
    "tune": ("tuning", "KerasTuner search (python -m tuning)"),
    "evaluate": ("keras_fer.evaluate", "accuracy, F1, confusion matrices of a run"),
    "visualize": ("keras_fer.visualize", "saliency, Grad-CAM, activations, curves"),
    "export": ("keras_fer.export", "SavedModel, .keras, TFLite, ONNX, with a parity check"),
    "predict": ("keras_fer.predict", "images, folders, videos, live streams (--camera)"),
    "release": ("keras_fer.release", "release a run as saved_models/best"),
    "ensemble": ("keras_fer.ensemble", "average several runs into one model"),
    "bench": ("keras_fer.bench", "training throughput per model and augmentation"),
    "experiments": ("keras_fer.experiments", "run a study file with repeats, write its tables"),
}
ALIASES = {"tuning": "tune"}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: keras-fer [--version] SUBCOMMAND [ARGS...]  (keras_fer {__version__})",
             "", "Facial expression recognition with Keras 3. Each subcommand takes --help, and",
             "--verbose to show TensorFlow's start-up lines. Subcommands:", ""]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "In Python: rec = keras_fer.load(); rec.detect_emotions(image)"]
    return "\n".join(lines)


@cli_main
def main(argv=None) -> int:
    """Run ``SUBCOMMAND`` as ``python -m <its module>`` would; returns its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("error: no subcommand given (keras-fer --help lists them)", file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        print(f"keras_fer {__version__}")
        return 0
    name = ALIASES.get(argv[0], argv[0])
    if name not in COMMANDS:
        print(f"error: unknown subcommand {argv[0]!r} (choose from {', '.join(COMMANDS)}; "
              "keras-fer --help)", file=sys.stderr)
        return 2
    module = COMMANDS[name][0]
    saved = sys.argv
    sys.argv = [f"keras-fer {name}", *argv[1:]]
    errors.INVOKED_AS = (module, f"keras-fer {name}")  # its parsers' prog (usage, --help)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv, errors.INVOKED_AS = saved, None
    return 0
