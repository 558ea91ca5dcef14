"""A tiny random search end to end: killed in its second trial, resumed by the same command
within a new budget, then the table, the plot and the retrained best (evaluated, not released);
a third run finds nothing left to do; --release releases it."""
import contextlib
import io
import json

import pandas as pd
import pytest

from tuning.best import constant_score
from tuning.cli import main

FIX = ["--space", "blockcnn", "--fix", "depth=4", "--fix", "width=16", "--fix", "augment=none"]


def _argv(data, base, tmp, *extra):
    return ["--data", str(data), "--config", str(base), "--tuner", "random", "--epochs", "1",
            "--limit", "14", "--max-trials", "2", "--dir", str(tmp / "search"), *FIX, *extra]


def _quiet_main(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def searched(tune_env, tmp_path_factory):
    """Run 1 dies in trial 2 (KeyboardInterrupt as from a kill); run 2 is the same command with
    a new budget; run 3 again with the trials all done. Returns (tmp, fit calls, run-2 output,
    run-3 output, trial-0 score)."""
    from tuning import hypermodel

    data, base = tune_env
    tmp = tmp_path_factory.mktemp("search")
    argv = _argv(data, base, tmp)
    calls, real_fit = [], hypermodel.FERHyperModel.fit

    def fit_then_die(self, *a, **k):
        if "validation_data" in k:  # a trial (the calibration has none)
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt  # killed in the middle of the second trial
        return real_fit(self, *a, **k)

    project = tmp / "search" / "blockcnn_random"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hypermodel.FERHyperModel, "fit", fit_then_die)
        assert main(argv) == 130
        states = [json.loads((project / f"trial_{i}" / "trial.json").read_text()) for i in (0, 1)]
        assert [s["status"] for s in states] == ["COMPLETED", "RUNNING"]
        code, second = _quiet_main(argv + ["--time-budget", "1h"])
        assert code == 0, second  # trial 0 kept, trial 1 run again
        assert len(calls) == 3
        code, third = _quiet_main(_argv(data, base, tmp, "--no-retrain"))
        assert code == 0
    return tmp, len(calls), second, third, states[0]["score"], data


def fer_small_public_labels(searched):
    from keras_fer.data import load

    data = load(searched[5])
    return data.labels[data.splits == "PublicTest"]


def test_resumed_search_keeps_trials_done_and_stops_at_max_trials(searched):
    tmp, calls, second, third, first_score, _ = searched
    project = tmp / "search" / "blockcnn_random"
    table = pd.read_csv(project / "trials.csv")
    assert list(table["trial"]) == [0, 1] and set(table["status"]) == {"COMPLETED"}
    assert table["score"][0] == pytest.approx(first_score)  # not re-run after the kill
    assert calls == 3  # third run: no new trial
    assert "Reloading Tuner" in third and "Running Trial" not in third
    assert sorted(p.name for p in project.glob("trial_*")) == ["trial_0", "trial_1"]
    assert second.startswith("time budget 1 h (--time-budget 1h): about 1 trial(s), then the best retrained")
    assert "(1 done earlier, at most 2 in all)" in second and "from 1 measured trial(s)" in second


def test_table_plot_and_retrained_best(searched):
    tmp, second = searched[0], searched[2]
    project = tmp / "search" / "blockcnn_random"
    table = pd.read_csv(project / "trials.csv")
    assert table["epochs"].tolist() == [1, 1] and (table["seconds"] > 0).all()
    assert (table["steps_per_s"] > 0).all() and table["score"].between(0, 1).all()
    assert table["depth"].tolist() == [4, 4] and table["width"].tolist() == [16, 16]
    assert {"kernel1", "kernel2", "norm", "optimizer", "learning_rate", "weight_decay",
            "dropout", "augment"} <= set(table.columns)
    assert (project / "trials.png").read_bytes()[:4] == b"\x89PNG"
    [best] = list(project.glob("best_trial_*"))
    meta = json.loads((best / "search.json").read_text())
    assert best.name == f"best_trial_{meta['trial_id']}"
    # trial 0 is the space's defaults (under --fix); trial 1 a random point
    first = table.iloc[0]
    assert (first["kernel1"], first["kernel2"], first["norm"], first["optimizer"]) == (3, 3, "batch", "adam")
    assert (first["learning_rate"], first["weight_decay"], first["dropout"]) == (1e-3, 1e-4, 0.3)
    # the best is retrained, unless no trial beat a constant prediction by 0.1 (it ranks noise):
    # then the defaults' trial, with a warning
    chance = constant_score(fer_small_public_labels(searched), "val_macro_f1")
    noise = table["score"].max() <= chance + 0.1
    expected = 0 if noise else int(table.loc[table["score"].idxmax(), "trial"])
    assert int(meta["trial_id"]) == expected and bool(meta["note"]) == noise
    assert ("warning: no trial scored more than 0.1 above" in second) == noise
    winner = table[table["trial"] == int(meta["trial_id"])].iloc[0]
    assert meta["score"] == pytest.approx(winner["score"]) and meta["objective"] == "val_macro_f1"
    assert meta["hyperparameters"]["norm"] == winner["norm"] and meta["trial_limit"] == 14
    config = json.loads((best / "config.json").read_text())
    assert config["model"] == "baseline" and config["limit"] is None  # all of Training
    assert config["monitor"] == "val_macro_f1" and config["optimizer"]["name"] == winner["optimizer"]
    assert config["optimizer"]["learning_rate"] == pytest.approx(winner["learning_rate"])
    assert config["model_args"]["blocks"][0]["kernel_size"] == [winner["kernel1"], winner["kernel2"]]
    summary = json.loads((best / "summary.json").read_text())
    assert summary["train_images"] == 280  # fer_small's Training, not the trials' 14
    report = json.loads((best / "eval" / "report.json").read_text())
    assert set(report["splits"]) == {"PublicTest", "PrivateTest"} and report["tta"] == "none"
    assert not (best / "export").exists() and not (best / "eval" / "report_tencrop.json").exists()
    assert f"make release RUN={best}" in second
    assert "best: trial" in second and "PrivateTest accuracy" in second


@pytest.mark.long  # a whole release (24 s; tests/release's are CI's): `make test-long`, `make test-e2e`
def test_release_on_request_and_existing_best_out_needs_force(searched, tune_env, capsys):
    tmp = searched[0]
    data, base = tune_env
    [best] = list((tmp / "search" / "blockcnn_random").glob("best_trial_*"))
    before = (best / "model.keras").read_bytes()
    # --force: a best trained this little may fail the int8 parity check, which release refuses
    # without it (the card then says so at its top)
    code, out = _quiet_main(_argv(data, base, tmp, "--release", "--best-out", str(tmp / "best"),
                                  "--force"))
    assert code == 0 and "was retrained already" in out  # the finished run is not retrained
    assert (best / "model.keras").read_bytes() == before
    rel = tmp / "best"
    assert (rel / "export" / "savedmodel" / "saved_model.pb").is_file()  # a release: exported
    assert (rel / "eval" / "report_tencrop.json").is_file()
    meta = json.loads((rel / "search.json").read_text())
    assert f"trial {meta['trial_id']}, val_macro_f1" in (rel / "README.md").read_text()  # + card
    assert not [p for p in tmp.iterdir() if p.name.startswith(".best")]  # temp dir renamed
    capsys.readouterr()
    assert main(_argv(data, base, tmp, "--release", "--best-out", str(rel))) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {rel}: a model is already released there; pass --force to replace it"
    assert main(_argv(data, base, tmp, "--fix", "depth=x")) == 2
    assert "'x' is not a int" in capsys.readouterr().err


def test_a_search_resumes_only_with_its_settings(searched, tune_env, capsys):
    tmp = searched[0]
    data, base = tune_env
    argv = _argv(data, base, tmp)
    argv[argv.index("--limit") + 1] = "21"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp / 'search' / 'blockcnn_random'}: this search was started with "
                   "limit = 14, this command gives 21; run it with the same settings or use "
                   "another --dir\n")


def test_the_budget_stops_new_trials_cuts_a_running_one_and_a_new_budget_resumes(
        tune_env, tmp_path, monkeypatch):
    """Run A: after trial 0 one second of the search's 44 min 30 s is left (the hour less make
    train's 14 minutes for the retraining and 90 s for its evaluation): no trial 1. Run B (a new
    hour): trial 1, then the clock passes the search's end in trial 2: cut. Run C: only trial 2
    runs again. Each run ends with its table and a best retrained within make train's budget,
    evaluated."""
    from tuning import budget, hypermodel, plan

    data, base = tune_env
    offset, real_clock = [0.0], budget.clock
    monkeypatch.setattr(budget, "clock", lambda: real_clock() + offset[0])
    calls, jumped, real_fit, real_sync = [], [], hypermodel.FERHyperModel.fit, plan.SearchPlan.sync

    def fit(self, *a, **k):
        if "validation_data" in k:  # a trial, not the calibration
            calls.append(1)
            if len(calls) == 3:
                offset[0] = 45 * 60  # trial 2 starts, then the search phase is over
        return real_fit(self, *a, **k)

    def sync(self, oracle):
        if len(calls) == 1 and not jumped:  # trial 0 done: before trial 1 is created
            offset[0] = 60 * 60 - 14 * 60 - 90 - 1
            jumped.append(1)
        return real_sync(self, oracle)

    monkeypatch.setattr(hypermodel.FERHyperModel, "fit", fit)
    monkeypatch.setattr(plan.SearchPlan, "sync", sync)
    argv = _argv(data, base, tmp_path, "--max-trials", "3", "--time-budget", "1h")
    project = tmp_path / "search" / "blockcnn_random"

    code, out_a = _quiet_main(argv)
    assert code == 0 and len(calls) == 1
    assert "time budget: the next trial (1 epoch(s), about" in out_a
    assert "left for the search: no new trial; run the same command again to resume within a new " \
           "budget" in out_a
    assert sorted(p.name for p in project.glob("trial_*")) == ["trial_0"]
    table_a = pd.read_csv(project / "trials.csv")
    assert table_a["status"].tolist() == ["COMPLETED"]
    assert (project / "best_trial_0" / "eval" / "report.json").is_file()
    assert "within 14 min (make train's budget, recipes/cpu.json; at most 1 epochs)" in out_a
    assert json.loads((project / "best_trial_0" / "config.json").read_text())["time_budget"] == "840s"
    assert json.loads((project / "best_trial_0" / "search.json").read_text())["retrain_budget"] == "840s"

    offset[0] = 0.0
    code, out_b = _quiet_main(argv)
    assert code == 0 and len(calls) == 3, out_b
    assert ("time budget: trial 2 cut after 1 epoch(s) at the end of the search's time; it runs "
            "again first when the search is resumed") in out_b
    assert pd.read_csv(project / "trials.csv")["status"].tolist() == ["COMPLETED", "COMPLETED", "CUT"]
    assert json.loads((project / "trial_2" / "timing.json").read_text())["cut"] is True
    assert "best: trial" in out_b

    offset[0] = 0.0
    code, out_c = _quiet_main(argv)
    assert code == 0 and len(calls) == 4  # trial 2 only: no finished trial is redone
    table_c = pd.read_csv(project / "trials.csv")
    assert table_c["status"].tolist() == ["COMPLETED"] * 3
    assert table_c["score"][0] == pytest.approx(table_a["score"][0])


def test_a_budget_too_short_for_one_trial_says_so(tune_env, tmp_path, capsys):
    data, base = tune_env
    assert main(_argv(data, base, tmp_path, "--time-budget", "1s")) == 2
    captured = capsys.readouterr()
    project = tmp_path / "search" / "blockcnn_random"
    assert captured.out.startswith("time budget 1 s (--time-budget 1s): about 0 trial(s)")
    assert "does not fit in the 0 s left for the search: no new trial" in captured.out
    assert captured.err.splitlines()[-1] == (f"error: {project}: no completed trial to retrain "
                                             "(a larger --time-budget lets one finish)")
    assert not list(project.glob("trial_*")) and len(pd.read_csv(project / "trials.csv")) == 0


def test_a_base_config_with_a_training_time_budget_is_refused(tune_env, tmp_path, capsys):
    data, _ = tune_env
    base = tmp_path / "budgeted.json"
    base.write_text(json.dumps({"time_budget": "14m", "schedule": {"name": "cosine"}}))
    assert main(_argv(data, base, tmp_path)) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {base}: time_budget is a setting of one training; a search has its own "
        "--time-budget")
