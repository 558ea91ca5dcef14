"""What the command line offers and the search itself uses: the tuners, the objectives and the
time budget without a GPU. A module without Keras, so that ``python -m tuning --help`` (and a bad
option) answers without importing it (see ``tuning.cli``)."""

TUNERS = ("hyperband", "bayesian", "random")
OBJECTIVES = ("val_macro_f1", "val_accuracy")
CPU_DEFAULT = 45 * 60  # without a GPU: a working session
