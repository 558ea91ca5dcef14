"""KerasTuner search over FER models and their training recipe: ``python -m tuning``.

Public API: :data:`SPACES` and :func:`get_space` (the search spaces), :class:`FERHyperModel`,
:func:`config_from_values` / :func:`declare` (the block-CNN space), :func:`make_tuner`,
:func:`trials_table`, :func:`write_report`, and the CLI :func:`main`.
"""
import keras_fer  # noqa: F401  (first: its quiet start comes before TensorFlow's import)
from tuning.hypermodel import FERHyperModel, config_from_values, declare
from tuning.report import trials_table, write_report
from tuning.search import main, make_tuner
from tuning.spaces import SPACES, Space, get_space

__all__ = ["FERHyperModel", "SPACES", "Space", "config_from_values", "declare", "get_space",
           "make_tuner", "trials_table", "write_report", "main"]
