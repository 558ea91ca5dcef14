"""A tiny random search end to end: killed in its second trial, resumed by the same command,
then the table, the plot and the retrained best; a third run finds nothing left to do."""
import json

import pandas as pd
import pytest

from tuning.search import main

FIX = ["--fix", "depth=4", "--fix", "width=16", "--fix", "augment=none"]  # keep trials cheap


def _argv(data, base, tmp, *extra):
    return ["--data", str(data), "--config", str(base), "--tuner", "random", "--epochs", "1",
            "--limit", "14", "--max-trials", "2", "--dir", str(tmp / "search"), *FIX, *extra]


@pytest.fixture(scope="module")
def searched(tune_env, tmp_path_factory):
    """Run 1 dies in trial 2 (KeyboardInterrupt as from a kill); run 2 is the same command;
    run 3 again with the trials all done. Returns (tmp, fit calls, run-3 output, trial-0 score)."""
    from tuning import hypermodel

    data, base = tune_env
    tmp = tmp_path_factory.mktemp("search")
    argv = _argv(data, base, tmp, "--best-out", str(tmp / "best"))
    calls, real_fit = [], hypermodel.FERHyperModel.fit

    def fit_then_die(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed in the middle of the second trial
        return real_fit(self, *a, **k)

    project = tmp / "search" / "random"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hypermodel.FERHyperModel, "fit", fit_then_die)
        assert main(argv) == 130
        states = [json.loads((project / f"trial_{i}" / "trial.json").read_text()) for i in (0, 1)]
        assert [s["status"] for s in states] == ["COMPLETED", "RUNNING"]
        assert not (tmp / "best").exists()
        assert main(argv) == 0  # the same command again: trial 0 kept, trial 1 run again
        assert len(calls) == 3
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(_argv(data, base, tmp, "--no-retrain")) == 0
    return tmp, len(calls), out.getvalue(), states[0]["score"]


def test_resumed_search_keeps_trials_done_and_stops_at_max_trials(searched):
    tmp, calls, third_output, first_score = searched
    project = tmp / "search" / "random"
    table = pd.read_csv(project / "trials.csv")
    assert list(table["trial"]) == [0, 1] and set(table["status"]) == {"COMPLETED"}
    assert table["score"][0] == pytest.approx(first_score)  # not re-run after the kill
    assert calls == 3  # third run: no new trial
    assert "Reloading Tuner" in third_output and "Running Trial" not in third_output
    assert sorted(p.name for p in project.glob("trial_*")) == ["trial_0", "trial_1"]


def test_table_plot_and_retrained_best(searched):
    tmp = searched[0]
    project = tmp / "search" / "random"
    table = pd.read_csv(project / "trials.csv")
    assert table["epochs"].tolist() == [1, 1] and (table["seconds"] > 0).all()
    assert table["score"].between(0, 1).all()
    assert table["depth"].tolist() == [4, 4] and table["width"].tolist() == [16, 16]
    assert {"kernel1", "kernel2", "norm", "optimizer", "learning_rate", "weight_decay",
            "dropout", "augment"} <= set(table.columns)
    assert (project / "trials.png").read_bytes()[:4] == b"\x89PNG"
    best = tmp / "best"
    meta = json.loads((best / "search.json").read_text())
    winner = table[table["trial"] == int(meta["trial_id"])].iloc[0]
    assert winner["score"] == pytest.approx(table["score"].max())  # the best (ties: any of them)
    assert meta["score"] == pytest.approx(winner["score"]) and meta["objective"] == "val_macro_f1"
    assert meta["hyperparameters"]["norm"] == winner["norm"]
    config = json.loads((best / "config.json").read_text())
    assert config["model"] == "baseline" and config["limit"] == 14 and config["monitor"] == "val_macro_f1"
    assert config["optimizer"]["name"] == winner["optimizer"]
    assert config["optimizer"]["learning_rate"] == pytest.approx(winner["learning_rate"])
    assert config["model_args"]["blocks"][0]["kernel_size"] == [winner["kernel1"], winner["kernel2"]]
    report = json.loads((best / "eval" / "report.json").read_text())
    assert {"PublicTest", "PrivateTest"} <= set(report["splits"])
    assert (best / "model.keras").is_file()
    assert (best / "export" / "savedmodel" / "saved_model.pb").is_file()  # a release: exported
    assert f"trial {meta['trial_id']}, val_macro_f1" in (best / "README.md").read_text()  # + card
    assert not [p for p in tmp.iterdir() if p.name.startswith(".best")]  # temp dir renamed


def test_existing_best_out_needs_force(searched, tune_env, capsys):
    tmp = searched[0]
    data, base = tune_env
    assert main(_argv(data, base, tmp, "--best-out", str(tmp / "best"))) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp / 'best'}: a model is already released there; pass --force to replace it"
    assert main(_argv(data, base, tmp, "--fix", "depth=x")) == 2
    assert "'x' is not a int" in capsys.readouterr().err
    # without --best-out the best goes into the search folder, not over saved_models/best
    default = tmp / "search" / "random" / "best"
    default.mkdir()
    (default / "model.keras").write_bytes(b"")
    (default / "README.md").write_text("# Model card: a release made before release.json\n")
    assert main(_argv(data, base, tmp)) == 2
    assert capsys.readouterr().err.startswith(f"error: {default}: a model is already released there")
