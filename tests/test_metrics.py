"""The streaming macro-F1 and average-accuracy metrics equal scikit-learn's numbers."""
import keras
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from keras_fer.metrics import AverageAccuracy, ConfusionMatrixMetric, MacroF1, epoch_metrics


def _batches(seed=0, n=200, c=7):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[y == 1] = 0  # class 1 never true: average accuracy must skip it, macro-F1 counts it
    logits = rng.normal(size=(n, c)).astype("float32")
    logits[np.arange(n) % 3 == 0, y[np.arange(n) % 3 == 0]] += 5.0  # a third right for sure
    return y, logits


@pytest.mark.backends
def test_streaming_metrics_equal_sklearn_over_batches():
    y, logits = _batches()
    pred = logits.argmax(1)
    f1, avg = MacroF1(7), AverageAccuracy(7)
    for m in (f1, avg):
        for s in range(0, len(y), 64):  # several update_state calls accumulate
            m.update_state(y[s:s + 64], logits[s:s + 64])
    assert float(f1.result()) == pytest.approx(
        f1_score(y, pred, average="macro", labels=list(range(7)), zero_division=0), abs=1e-6)
    assert float(avg.result()) == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-6)
    cm = ConfusionMatrixMetric(7)
    cm.update_state(y, logits)
    assert np.array_equal(np.asarray(cm.result()), np.histogram2d(y, pred, bins=7,
                                                                   range=[[0, 7], [0, 7]])[0])
    f1.reset_state()
    assert float(f1.result()) == 0.0


@pytest.mark.backends
def test_metrics_inside_compiled_evaluate_equal_sklearn():
    y, logits = _batches(seed=1, n=96)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Identity()])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=epoch_metrics(7))
    res = model.evaluate(logits, y, batch_size=32, return_dict=True, verbose=0)
    pred = logits.argmax(1)
    assert res["accuracy"] == pytest.approx((pred == y).mean(), abs=1e-6)
    assert res["macro_f1"] == pytest.approx(
        f1_score(y, pred, average="macro", labels=list(range(7)), zero_division=0), abs=1e-6)
    assert res["average_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-6)


def test_config_round_trip():
    m = MacroF1(num_classes=5, name="f1x")
    assert m.get_config() == {"num_classes": 5, "name": "f1x", "dtype": m.dtype}
    clone = MacroF1.from_config(m.get_config())
    assert clone.num_classes == 5 and clone.name == "f1x"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(
        AverageAccuracy(3)))
    assert isinstance(restored, AverageAccuracy) and restored.num_classes == 3
