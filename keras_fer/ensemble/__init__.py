"""k-member ensembles as ONE model (``keras_fer.ensemble.core``): ``build_ensemble(models)``
averages the members' probabilities in a single Keras model, ``write_ensemble(run_dirs, out)``
saves it as a run directory that evaluate, export, predict and release read like any run.

CLI: ``python -m keras_fer.ensemble RUN_DIR RUN_DIR [...] --out DIR [--force]``.
"""
from keras_fer.ensemble.core import build_ensemble, write_ensemble

__all__ = ["build_ensemble", "write_ensemble"]
