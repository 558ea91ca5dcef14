"""Release a trained run as ``saved_models/best``: the run directory with its evaluation reports,
confusion matrices, an exported SavedModel (+ TFLite) and a model card
(``keras_fer.release.core``; the card is ``keras_fer.release.card``).

CLI: ``python -m keras_fer.release RUN_DIR [--out saved_models/best] [--data PATH] [--force]``.
"""
from keras_fer.release.card import render_card
from keras_fer.release.core import (
    CARD_FILE,
    MAX_BYTES,
    RUN_FILES,
    SPLITS,
    check_out,
    folder_bytes,
    make_release,
    release_formats,
)

__all__ = ["CARD_FILE", "MAX_BYTES", "RUN_FILES", "SPLITS", "check_out", "folder_bytes",
           "make_release", "release_formats", "render_card"]
