"""Reproduce published FER2013 experiments: ``python -m keras_fer.experiments``.

An experiment file (``experiments/*.json``, see :mod:`keras_fer.experiments.spec`) is a base
TrainConfig and named runs that override it; each run is trained with ``keras_fer.train.run``
(repeated with seeds), compared on validation, and only the configuration chosen on validation
is reported on PrivateTest.

Example:
    >>> from keras_fer.experiments import load_experiment, run_experiment, write_results
    >>> exp = load_experiment("experiments/optimizer_lr_grid.json")
    >>> outcome = run_experiment(exp, out="experiments/results/optimizer_lr_grid", limit=140, epochs=1)
    >>> write_results(exp, outcome, "experiments/results/optimizer_lr_grid", argv=[])
"""
from keras_fer.experiments.report import comparison_table, write_results
from keras_fer.experiments.runner import choose_run, collect, run_experiment
from keras_fer.experiments.spec import BEST_VALIDATION, Experiment, list_experiments, load_experiment

__all__ = ["Experiment", "BEST_VALIDATION", "load_experiment", "list_experiments",
           "run_experiment", "choose_run", "collect", "comparison_table", "write_results"]
