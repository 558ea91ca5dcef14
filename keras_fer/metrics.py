"""Streaming class-balanced metrics for Keras: macro-F1 and average (class-balanced) accuracy.

Both accumulate a confusion matrix over the epoch (``keras.ops`` only, so they run inside the
compiled step on TensorFlow and JAX) from integer labels and logits (or probabilities: only the
arg-max is used).
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_fer")
class ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a ``(num_classes, num_classes)`` confusion matrix (rows: true, cols: predicted).

    ``result()`` returns the matrix itself; subclasses reduce it to one number.

    Args:
        num_classes: number of classes.
        name: metric name.
        dtype: dtype of the result.

    Example:
        >>> m = ConfusionMatrixMetric(num_classes=3)
        >>> m.update_state([0, 1, 2], [[5., 0, 0], [0, 5., 0], [5., 0, 0]])
        >>> m.result().shape
        (3, 3)
    """

    default_name = "confusion_matrix"

    def __init__(self, num_classes=7, name=None, dtype=None, **kwargs):
        super().__init__(name=name or self.default_name, dtype=dtype, **kwargs)
        self.num_classes = int(num_classes)
        self.matrix = self.add_variable(
            shape=(self.num_classes, self.num_classes), initializer="zeros",
            dtype="float32", name="matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(ops.convert_to_tensor(y_true), "int32"), (-1,))
        y_pred = ops.convert_to_tensor(y_pred)
        pred = ops.argmax(ops.reshape(y_pred, (-1, self.num_classes)), axis=-1)
        true_1h = ops.one_hot(y_true, self.num_classes, dtype="float32")
        pred_1h = ops.one_hot(pred, self.num_classes, dtype="float32")
        if sample_weight is not None:
            w = ops.reshape(ops.cast(ops.convert_to_tensor(sample_weight), "float32"), (-1, 1))
            true_1h = true_1h * w
        self.matrix.assign_add(ops.matmul(ops.transpose(true_1h), pred_1h))

    def reset_state(self):
        self.matrix.assign(ops.zeros((self.num_classes, self.num_classes), dtype="float32"))

    def result(self):
        return ops.convert_to_tensor(self.matrix)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype}


def _safe_div(a, b):
    return ops.where(b > 0, a / ops.maximum(b, 1e-12), ops.zeros_like(a))


@keras.saving.register_keras_serializable(package="keras_fer")
class MacroF1(ConfusionMatrixMetric):
    """Macro-averaged F1 over classes (sklearn ``f1_score(average="macro", zero_division=0)``).

    Args:
        num_classes: number of classes.
        name: metric name (``macro_f1``).
        dtype: dtype of the result.

    Example:
        >>> m = MacroF1(num_classes=2)
        >>> m.update_state([0, 1, 1], [[1., 0], [0, 1.], [1., 0]])
        >>> round(float(m.result()), 3)
        0.667
    """

    default_name = "macro_f1"

    def result(self):
        cm = self.matrix
        tp = ops.diagonal(cm)
        f1 = _safe_div(2.0 * tp, ops.sum(cm, axis=0) + ops.sum(cm, axis=1))
        return ops.mean(f1)


@keras.saving.register_keras_serializable(package="keras_fer")
class AverageAccuracy(ConfusionMatrixMetric):
    """Mean per-class recall: the mean of the row-normalised confusion-matrix diagonal
    (sklearn ``balanced_accuracy_score`` over the classes present in ``y_true``).

    Args:
        num_classes: number of classes.
        name: metric name (``average_accuracy``).
        dtype: dtype of the result.

    Example:
        >>> m = AverageAccuracy(num_classes=2)
        >>> m.update_state([0, 0, 0, 1], [[1., 0], [1., 0], [0, 1.], [0, 1.]])
        >>> round(float(m.result()), 3)
        0.833
    """

    default_name = "average_accuracy"

    def result(self):
        cm = self.matrix
        support = ops.sum(cm, axis=1)
        recall = _safe_div(ops.diagonal(cm), support)
        present = ops.cast(support > 0, "float32")
        return ops.sum(recall) / ops.maximum(ops.sum(present), 1.0)


def epoch_metrics(num_classes):
    """The metrics every training run reports: accuracy, macro-F1, average accuracy."""
    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            MacroF1(num_classes), AverageAccuracy(num_classes)]
