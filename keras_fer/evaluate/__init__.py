"""Evaluation of a run directory: accuracy, macro/weighted F1, average accuracy, a per-class
table, ``RUN/eval/report.json`` and confusion-matrix PNGs per split (``keras_fer.evaluate.core``);
the scores themselves come from ``keras_fer.evaluate.scores``.

CLI: ``python -m keras_fer.evaluate RUN_DIR [--data PATH] [--split A,B] [--tta MODE] [--out DIR]
[--force] [--json]``.
"""
from keras_fer.evaluate.core import (
    EVAL_DIR,
    SPLITS,
    compiled_proba,
    evaluate_run,
    predict_proba,
    report_name,
    report_path,
    selection,
    selection_line,
)
from keras_fer.evaluate.scores import compute_metrics, confusion_matrix, format_report, plot_confusion

__all__ = ["EVAL_DIR", "SPLITS", "compiled_proba", "evaluate_run", "predict_proba", "report_name",
           "report_path", "selection", "selection_line", "compute_metrics", "confusion_matrix",
           "format_report", "plot_confusion"]
