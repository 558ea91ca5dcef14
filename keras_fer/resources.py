"""Files that ship with keras_fer: the packaged models, the training recipes, the Haar cascade.

Two packaged models: ``"fast"`` (the default of ``keras_fer.load()``: VGG13 x0.5 distilled from
the release, for apps) and ``"accurate"`` (the release, VGG13 x0.75). In a checkout they and the
recipes live at the top of the repository (``saved_models/fast``, ``saved_models/best``,
``recipes/``), where the design card, the Makefile and the README use them. A built wheel
carries copies of them in ``keras_fer/assets/`` (``setup.py`` copies them at build time), so
an installed keras_fer finds them with nothing else: no checkout, no download.
A wheel carries each model once, in the format of the default engine (the int8 TFLite that
LiteRT runs) with its labels, parity report, reports and card, but not ``model.keras``,
the SavedModel or the float16 TFLite (``WHEEL_LEAVES_OUT``): the "keras" and "savedmodel"
engines run a checkout's copy or a run directory.

Example::

    from keras_fer import resources
    resources.release_dir()   # .../keras_fer/assets/fast, or the checkout's saved_models/fast
    resources.release_dir("accurate")  # .../assets/best, or saved_models/best
    resources.recipe("cpu")          # .../recipes/cpu.json
"""
from __future__ import annotations

from pathlib import Path

from keras_fer.errors import UserError

PACKAGE = Path(__file__).resolve().parent
ASSETS = PACKAGE / "assets"
CHECKOUT = PACKAGE.parent
# The packaged models: name -> (folder inside keras_fer/assets, folder in a checkout);
# keras_fer.load(NAME) runs one, keras_fer.load() DEFAULT_MODEL: the distilled student, about
# twice as fast as the release at a point less accuracy (their model cards).
MODELS = {"fast": ("fast", "saved_models/fast"), "accurate": ("best", "saved_models/best")}
DEFAULT_MODEL = "fast"
RECIPES = ("recipes", "recipes")
# setup.py copies the second of each pair to the first (its TREES, tested to agree).
PACKAGED = (*MODELS.values(), RECIPES)
# What a wheel leaves out of a packaged model: the formats the default engine does not run
# (model.keras 21 MB, the SavedModel 41 MB, the float16 TFLite 11 MB), and what predict and
# visualize add to a release. setup.py repeats this list (tested to agree).
WHEEL_LEAVES_OUT = ("model.keras", "savedmodel", "model_float16.tflite", "model.onnx", "vis",
                    "predict")


def _find(packaged, checkout):
    """The packaged copy when there is one (an installed wheel), else the checkout's."""
    for path in (ASSETS / packaged, CHECKOUT / checkout):
        if path.exists():
            return path
    return None


def release_dir(name=None) -> Path:
    """The folder of a packaged model (``keras_fer.load(name)`` reads it; None: the default,
    ``DEFAULT_MODEL``).

    Raises:
        UserError: an unknown name, or this copy of keras_fer does not carry the model.
    """
    name = DEFAULT_MODEL if name is None else name
    if name not in MODELS:
        raise UserError(f"{name!r}: no such packaged model (choose from {', '.join(MODELS)}, "
                        "or pass a run directory or an exported model)")
    packaged, checkout = MODELS[name]
    found = _find(packaged, checkout)
    if found is None or not ((found / "model.keras").is_file()
                             or (found / "export" / "model_int8.tflite").is_file()):
        raise UserError(f"no packaged model {name!r} here (looked in {ASSETS / packaged} and "
                        f"{CHECKOUT / checkout}): pass a run directory or an exported model")
    return found


def recipes_dir() -> Path:
    """The folder of training recipes (``best.json``, ``cpu.json``, ...)."""
    found = _find(*RECIPES)
    if found is None:
        raise UserError(f"no recipes here (looked in {ASSETS / RECIPES[0]} and "
                        f"{CHECKOUT / RECIPES[1]})")
    return found


def recipe(name) -> Path:
    """``recipes_dir() / f"{name}.json"``."""
    return recipes_dir() / f"{name}.json"
