"""The time budget of a search: the Hyperband shape, estimates, the deadline and the first line
(durations: tests/test_durations.py)."""
import keras
import numpy as np
import pytest

from tuning import budget
from tuning.budget import (
    Budget,
    Deadline,
    Estimator,
    fitting_trials,
    hyperband_epochs,
    retrain_plan,
)
from tuning.cli import main
from tuning.plan import SearchPlan, first_lines


def test_a_bad_budget_is_one_line_exit_2(capsys):
    assert main(["--time-budget", "soon"]) == 2
    assert capsys.readouterr().err == ("error: --time-budget 'soon': expected a duration such as "
                                       "45m, 2h, 1h30m or 90s (or none for no limit)\n")


@pytest.mark.parametrize("max_epochs", [1, 2, 10, 30])
def test_hyperband_shape_is_kerastuners(max_epochs, hyperband_trial_epochs):
    """The epochs of each trial, in order, as KerasTuner's own oracle creates them."""
    assert hyperband_trial_epochs(max_epochs) == hyperband_epochs(max_epochs)


def test_estimates_come_from_measured_trials():
    calibration = {"setup_seconds": 20.0, "epoch_seconds": 50.0}
    est = Estimator(calibration)
    assert est.trial_seconds(2) == 120.0
    est.add({"setup_seconds": 10.0, "epoch_seconds": 30.0})
    est.add({"setup_seconds": 14.0, "epoch_seconds": 34.0})
    assert est.trial_seconds(2) == 12.0 + 2 * 32.0  # the calibration no longer counts
    assert fitting_trials([2, 2, 6, 2], est, 260.0) == [(2, 76.0), (2, 76.0)]  # 6 epochs: 204 s
    timing = {"img_per_s": 100.0, "val_images": 50, "val_seconds": 1.0, "setup_seconds": 5.0}
    # an epoch of 1,000 images + 100 validation images: 12 s; fixed: 5 + 200 / 50 + 10 = 19 s
    assert retrain_plan(timing, 1000, 100, 200, 30, 100.0) == (6, 19.0 + 6 * 12.0)
    assert retrain_plan(timing, 1000, 100, 200, 30, 5.0) == (1, 31.0)  # at least one epoch
    assert retrain_plan(timing, 1000, 100, 200, 3, float("inf")) == (3, 55.0)


def test_deadline_cuts_at_the_first_batch_after_it_and_still_validates(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(budget, "clock", lambda: now[0])

    class Tick(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 1.0  # one second a batch

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    deadline = Deadline(2.5)
    seen = []
    batches = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    history = model.fit(np.zeros((40, 3)), np.zeros((40, 2)), batch_size=4, epochs=3, verbose=0,
                        validation_data=(np.zeros((4, 3)), np.zeros((4, 2))),
                        callbacks=[Tick(), deadline, batches])
    assert deadline.cut and seen == [0, 1, 2]  # the batch ending at 3.0 s is the last
    assert len(history.history["val_loss"]) == 1


def test_first_line_gives_the_budget_the_trials_and_how_to_ask_for_more(monkeypatch):
    monkeypatch.setattr(budget, "clock", lambda: 1000.0)
    est = Estimator({"setup_seconds": 10.0, "epoch_seconds": 30.0, "img_per_s": 100.0,
                     "val_images": 100, "val_seconds": 1.0})
    plan = SearchPlan(Budget(600), est, "random", 2, 20, 2000, 400, 100,
                      retrain=(28709, 3589, 7178, 2))
    # the retraining: a third of 10 min (make train's 14 min do not fit), 200 s, + 90 s for its
    # setup and evaluation; 310 s for the search: 4 trials of 70 s
    head, detail, then = first_lines(plan, "--time-budget 10m", "efficient", "random")
    assert head == ("time budget 10 min (--time-budget 10m): about 4 trial(s), then the best "
                    "retrained; for more time: --time-budget 2h (make tune BUDGET=2h), or none "
                    "for no limit")
    assert "at most 20 in all) in about 5 min" in detail and "from a few steps" in detail
    assert then.startswith("then: the best retrained on all 28,709 Training images within 3 min "
                           "(make train's budget, recipes/cpu.json; at most 2 epochs)")
    unlimited = SearchPlan(Budget(None), est, "hyperband", 1, 20, 2000, 400, 100)
    assert first_lines(unlimited, "the default with a GPU, H200", "blockcnn", "hyperband")[0] == \
        "no time budget (the default with a GPU, H200): about 1 trial(s), no retraining (--no-retrain)"
