"""KerasTuner search over FER models and their training recipe: ``python -m tuning``.

Public API: :data:`SPACES` and :func:`get_space` (the search spaces), :class:`FERHyperModel`,
:func:`config_from_values` / :func:`declare` (the block-CNN space), :func:`make_tuner`,
:func:`trials_table`, :func:`write_report`, and the CLI :func:`main` (``tuning.cli``).

The names are imported lazily so that ``python -m tuning --help`` (and a bad option) answers
without importing Keras or KerasTuner.
"""
from keras_fer.lazy import lazy_exports

_EXPORTS = {
    "FERHyperModel": "hypermodel", "config_from_values": "spaces", "declare": "spaces",
    "trials_table": "report", "write_report": "report", "main": "cli", "make_tuner": "search",
    "SPACES": "spaces", "Space": "spaces", "get_space": "spaces",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
