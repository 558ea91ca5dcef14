"""``time_budget``: the run fixes its epochs after the second one and trains exactly what a run
of that many epochs would have (keras_fer/budget.py: a callback and the driver)."""
import itertools
import json

import pytest

from keras_fer import rundir
from keras_fer.budget import TimeBudget, epochs_within
from keras_fer.budget import train_within as run
from keras_fer.config import TrainConfig
from keras_fer.durations import check_budget as check
from keras_fer.errors import UserError
from keras_fer.train.callbacks import ResumeState
from tests.train.conftest import read_history
from tests.train.test_train import Kill, Record

COSINE = {"name": "cosine", "warmup_epochs": 2}


def test_epochs_within_counts_whole_epochs_in_what_is_left():
    # 14 min, 100 s gone, 46 s an epoch, 2 done: 2 + floor(740 / 46) = 2 + 16
    assert epochs_within(840, 100, 46, 2, 30) == 18
    assert epochs_within(840, 100, 46, 2, 30, reserve_s=10) == 17  # 730 / 46 = 15.9
    assert epochs_within(840, 100, 46, 2, 12) == 12  # at most the config's epochs
    assert epochs_within(60, 100, 46, 2, 30) == 2  # over budget already: the epochs done


@pytest.mark.parametrize("settings, message", [
    ({"time_budget": "14x"}, "time_budget '14x': expected a duration"),
    ({"time_budget": "0m"}, "must be more than 0"),
    ({"time_budget": "14m", "folds": 3}, "time_budget with folds is not supported"),
    ({"time_budget": "14m", "schedule": {"name": "cosine", "warmup_epochs": 1}},
     "needs a cosine warm-up of at least 2 epochs, got warmup_epochs 1"),
    ({"time_budget": "14m", "schedule": {"name": "cosine", "warmup_epochs": 0}},
     "got warmup_epochs 0"),
])
def test_bad_budgets_are_refused_before_training(settings, message):
    with pytest.raises(UserError, match=message):
        check(TrainConfig.from_dict(settings, source="run.json"), "run.json")


def test_budgets_that_are_accepted():
    for settings in ({"time_budget": "2h50m", "schedule": COSINE},
                     {"time_budget": "14m", "schedule": {"name": "cosine"}},  # warm-up 5
                     {"time_budget": "90s", "schedule": {"name": "step", "every": 5}}):
        cfg = TrainConfig.from_dict(settings)
        assert cfg.time_budget == settings["time_budget"] and check(cfg) > 0
    budgeted = TrainConfig.from_dict({"time_budget": "14m"})
    assert budgeted.replace(time_budget="none").time_budget is None  # --time-budget none


@pytest.fixture
def epochs_of_1000_s(monkeypatch):
    """Each epoch takes 1000 s by the budget's timer (the run's clock stays real: seconds)."""
    ticks = itertools.count(0, 1000)
    monkeypatch.setattr(TimeBudget, "timer", staticmethod(lambda: next(ticks)))


def _losses_and_rates(out):
    return [(float(r["loss"]), float(r["lr"])) for r in read_history(out)]


def test_a_budgeted_run_trains_what_a_run_of_its_epochs_trains(fer_small, tiny_cfg, epochs_of_1000_s,
                                                               capsys):
    # 1 h 10 min at 1000 s an epoch: 2 timed + 4 more fit (the real elapsed seconds < 200)
    cfg = tiny_cfg.replace(epochs=8, schedule=COSINE, time_budget="1h10m", verbose=1)
    out = run(cfg, fer_small, resume_every_s=0)
    assert "time budget 1 h 10 min: epoch 2 took 1000 s, so the run has 6 epochs (at most 8)" \
        in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 6
    assert summary["time_budget"] == {"budget": "1h10m", "epochs": 6, "max_epochs": 8,
                                      "epoch_seconds": 1000, "cut_after": None}
    assert rundir.read_config(out).epochs == 6 and not (out / "ckpt").exists()
    same = run(tiny_cfg.replace(epochs=6, schedule=COSINE, out=str(out) + "-6"), fer_small)
    budgeted, plain = _losses_and_rates(out), _losses_and_rates(same)
    # the cosine decay spans 6 epochs (its last rate is 0), and the weights trained alike
    assert [lr for _, lr in budgeted] == pytest.approx([lr for _, lr in plain], rel=1e-6)
    assert budgeted[-1][1] == pytest.approx(0.0, abs=1e-9)
    assert [loss for loss, _ in budgeted] == pytest.approx([loss for loss, _ in plain], rel=1e-4)


def test_a_budgeted_run_killed_after_its_epochs_were_fixed_keeps_them(fer_small, tiny_cfg,
                                                                      epochs_of_1000_s):
    cfg = tiny_cfg.replace(epochs=8, schedule=COSINE, time_budget="1h10m")
    with pytest.raises(KeyboardInterrupt):
        run(cfg, fer_small, callbacks=[Kill(3)], resume_every_s=0)
    state = ResumeState.read_meta(rundir.Path(cfg.out) / "ckpt" / "resume.npz")
    assert state["epoch"] == 3 and state["states"]["budget"]["epochs"] == 6
    record = Record()
    out = run(cfg, fer_small, callbacks=[record], resume_every_s=0)  # timer says 1000 s again
    assert record.epochs == [3, 4, 5]
    assert json.loads((out / "summary.json").read_text())["time_budget"]["max_epochs"] == 8


def test_a_budget_smaller_than_two_epochs_stops_after_them(fer_small, tiny_cfg, epochs_of_1000_s):
    out = run(tiny_cfg.replace(epochs=8, schedule=COSINE, time_budget="10m"), fer_small)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["time_budget"]["epochs"] == 2


def test_a_budget_that_fits_every_epoch_trains_them_in_one_go(fer_small, tiny_cfg, epochs_of_1000_s):
    record = Record()
    out = run(tiny_cfg.replace(epochs=4, schedule=COSINE, time_budget="10h"), fer_small,
              callbacks=[record])
    assert record.epochs == [0, 1, 2, 3]
    assert json.loads((out / "summary.json").read_text())["time_budget"]["epochs"] == 4


def test_the_training_cli_takes_a_time_budget():
    from keras_fer.train.cli import build_parser, resolve_config

    cfg = resolve_config(build_parser().parse_args(["--time-budget", "14m", "--epochs", "9"]))
    assert cfg.time_budget == "14m" and cfg.epochs == 9


def test_a_budget_on_several_hosts_is_refused(tiny_cfg, monkeypatch):
    from keras_fer import distribute

    monkeypatch.setattr(distribute, "make_plan", lambda devices: distribute.Plan(processes=2))
    with pytest.raises(UserError, match="^time_budget on several hosts is not supported"):
        run(tiny_cfg.replace(time_budget="14m"))


def test_the_library_run_reads_no_budget(fer_small, tiny_cfg):
    from keras_fer.train import run as library_run

    out = library_run(tiny_cfg.replace(epochs=1, time_budget="1s"), fer_small)
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 1
    assert "time_budget" not in json.loads((out / "summary.json").read_text())


def test_epochs_that_slow_down_after_the_decision_are_cut_at_the_budget(fer_small, tiny_cfg,
                                                                        monkeypatch, capsys):
    # epochs 1-2 take 1000 s (6 fit in 1 h 10 min), the later ones 5000 s: no room for a 4th
    times = iter([0, 1000, 1000, 2000] + [t for e in range(2, 8) for t in (0, 5000)])
    monkeypatch.setattr(TimeBudget, "timer", staticmethod(lambda: next(times)))
    out = run(tiny_cfg.replace(epochs=8, schedule=COSINE, time_budget="1h10m"), fer_small)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 3
    assert summary["time_budget"]["epochs"] == 6 and summary["time_budget"]["cut_after"] == 3
    assert ("epoch 3 took 5000 s and another would end past the budget: stopping after 3 of 6 "
            "epochs") in capsys.readouterr().out
    assert not (out / "ckpt").exists()  # a finished run


def test_a_bad_time_budget_at_the_command_line_is_one_line_exit_2(tmp_path, capsys):
    from keras_fer.train.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["--time-budget", "soon", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("error: overrides: time_budget 'soon': expected a duration "
                                       "such as 45m, 2h, 1h30m or 90s (or none for no limit)\n")
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
