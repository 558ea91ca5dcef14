"""Files that ship with keras_fer: the released model, the training recipes, the Haar cascade.

In a checkout the released model and the recipes live at the top of the repository
(``saved_models/best``, ``recipes/``), where the design card, the Makefile and the README use
them. A built wheel carries copies of both in ``keras_fer/assets/`` (``setup.py`` copies them at
build time), so an installed keras_fer finds them with nothing else: no checkout, no download.

Example::

    from keras_fer import resources
    resources.release_dir()   # .../keras_fer/assets/best, or the checkout's saved_models/best
    resources.recipe("cpu")          # .../recipes/cpu.json
"""
from __future__ import annotations

from pathlib import Path

from keras_fer.errors import UserError

PACKAGE = Path(__file__).resolve().parent
ASSETS = PACKAGE / "assets"
CHECKOUT = PACKAGE.parent
# (name inside keras_fer/assets, path in a checkout); setup.py copies the second to the first.
RELEASE = ("best", "saved_models/best")
RECIPES = ("recipes", "recipes")
PACKAGED = (RELEASE, RECIPES)


def _find(packaged, checkout):
    """The packaged copy when there is one (an installed wheel), else the checkout's."""
    for path in (ASSETS / packaged, CHECKOUT / checkout):
        if path.exists():
            return path
    return None


def release_dir() -> Path:
    """The released model's run directory (``keras_fer.load()`` with no path reads it).

    Raises:
        UserError: this copy of keras_fer carries no released model.
    """
    found = _find(*RELEASE)
    if found is None or not (found / "model.keras").is_file():
        raise UserError(f"no released model here (looked in {ASSETS / RELEASE[0]} and "
                        f"{CHECKOUT / RELEASE[1]}): pass a run directory or an exported "
                        "SavedModel")
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
