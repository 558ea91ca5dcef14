"""KerasTuner search over block-CNNs and their training recipe (issue 5): ``python -m tuning``.

Public API: :class:`FERHyperModel` (the search space), :func:`config_from_values`,
:func:`make_tuner`, :func:`trials_table`, :func:`write_report`, and the CLI :func:`main`.
"""
import keras_fer  # noqa: F401  (first: its quiet start comes before TensorFlow's import)
from tuning.hypermodel import FERHyperModel, config_from_values, declare
from tuning.report import trials_table, write_report
from tuning.search import main, make_tuner

__all__ = ["FERHyperModel", "config_from_values", "declare", "make_tuner", "trials_table",
           "write_report", "main"]
