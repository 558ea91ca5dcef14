"""scripts/class_bias.py, behind issue 41's fear row: a bias on one class's log-probability,
scored against a NumPy reference on hand-made probabilities."""
import numpy as np

CLASSES = ["a", "fear", "c"]


def test_a_bias_moves_answers_to_its_class_as_numpy_says(load_script):
    probs = np.array([[0.5, 0.4, 0.1],    # fear, answered a until the bias passes log(5/4)
                      [0.6, 0.1, 0.3],    # a: needs log(6) to flip
                      [0.2, 0.3, 0.5],    # c, answered c until log(5/3)
                      [0.1, 0.8, 0.1]])   # fear
    labels = np.array([1, 0, 2, 1])
    rows = load_script("class_bias").sweep(probs, labels, CLASSES, "fear", [0.0, 0.3, 0.6, 2.0])
    for row in rows:  # the reference: argmax of log-probabilities + the bias on column 1
        pred = (np.log(probs) + [0, row["bias"], 0]).argmax(axis=1)
        assert row["accuracy"] == round(float(np.mean(pred == labels)), 4)
        assert row["recall"] == round(float(np.mean(pred[labels == 1] == 1)), 4)
    assert [(r["accuracy"], r["recall"]) for r in rows] == [
        (0.75, 0.5), (1.0, 1.0), (0.75, 1.0), (0.5, 1.0)]
    # macro-F1 at bias 0.6: a 1/1, fear 2/2 + c predicted fear: F1s 1, 0.8, 0 -> 0.6
    assert rows[2]["macro_f1"] == 0.6
