"""``python -m tuning ... --rank K``: which trials it picks, its Spearman correlation (against hand
values and scipy), and a tiny search ranked end to end: stopped by its budget, resumed, refused
when too few trials learned."""
import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tuning.rank import average_ranks, candidates, pick, spearman


def _trial(trial_id, score, status="COMPLETED", **values):
    hp = SimpleNamespace(values={"lr": float(trial_id), **values})  # distinct configurations
    return SimpleNamespace(trial_id=trial_id, score=score, status=status, hyperparameters=hp)


SCORES = [0.30, 0.50, 0.10, 0.45, 0.45, 0.20, 0.60, 0.35, 0.25, 0.40]  # trials 00..09


def test_pick_spreads_k_trials_over_the_rank_order_ties_by_trial_id():
    ranked = candidates([_trial(f"{i:02d}", s) for i, s in enumerate(SCORES)])
    # best first; 03 and 04 tie at 0.45: the lower id first
    assert [t.trial_id for t in ranked] == ["06", "01", "03", "04", "09", "07", "00", "08", "05", "02"]
    # positions 0, 1.8, 3.6, 5.4, 7.2, 9 rounded: 0, 2, 4, 5, 7, 9
    assert [t.trial_id for t in pick(ranked, 6)] == ["06", "03", "09", "07", "08", "02"]
    assert [t.trial_id for t in pick(ranked, 2)] == ["06", "02"]  # the best and the worst
    assert [t.trial_id for t in pick(ranked[:6], 3)] == ["06", "04", "07"]  # 2.5 rounds up
    assert pick(ranked, 10) == ranked
    with pytest.raises(ValueError):
        pick(ranked, 11)


def test_candidates_learned_something_once_per_configuration():
    trials = [_trial(f"{i:02d}", s) for i, s in enumerate(SCORES)]
    trials += [_trial("10", 0.2 + 1e-9), _trial("11", 0.9, status="RUNNING"),
               _trial("12", None, status="FAILED"),
               # trial 03's configuration again (a later Hyperband round): it counts once,
               # with its best score
               _trial("13", 0.55, lr=3.0, **{"tuner/epochs": 9}),
               _trial("14", 0.40, lr=1.0, **{"tuner/epochs": 9})]
    ranked = candidates(trials, chance=0.2)  # 05 (0.2) and 10 (the constant's score) are not above
    assert [t.trial_id for t in ranked] == ["06", "13", "01", "04", "09", "07", "00", "08"]


def test_average_ranks_and_spearman_by_hand():
    assert average_ranks([3, 1, 4, 1, 5]).tolist() == [3, 1.5, 4, 1.5, 5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # b's ranks 1, 2, 3.5, 5, 3.5: centred products 8, squares 10 and 9.5
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / np.sqrt(95))
    # ties on both sides: ranks 1.5 1.5 3 4 and 1 2.5 2.5 4 -> 3.75 / 4.5
    assert spearman([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(3.75 / 4.5)
    assert np.isnan(spearman([1, 2, 3], [5, 5, 5]))


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 3, 6, 11):
        a, b = rng.integers(0, 4, n), rng.normal(size=n).round(1)
        if len(set(a)) > 1:
            assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_the_search_s_retrained_best_is_reused_when_it_had_the_same_budget(tmp_path):
    from keras_fer import rundir
    from tuning.best import SEARCH_FILE
    from tuning.rank import run_dir_for

    best = tmp_path / "best_trial_03"
    best.mkdir()
    (best / rundir.SUMMARY_FILE).write_text("{}")
    (best / SEARCH_FILE).write_text(json.dumps({"retrain_budget": "840s"}))
    trial = _trial("03", 0.5)
    assert run_dir_for(tmp_path, trial, 840.0) == best
    assert run_dir_for(tmp_path, trial, 100.0) == tmp_path / "rank" / "trial_03"  # a short one
    assert run_dir_for(tmp_path, trial, None) == tmp_path / "rank" / "trial_03"
    assert run_dir_for(tmp_path, _trial("04", 0.4), 840.0) == tmp_path / "rank" / "trial_04"
    ranked = tmp_path / "rank" / "trial_03"  # a rank run's own retraining comes first
    ranked.mkdir(parents=True)
    (ranked / rundir.SUMMARY_FILE).write_text("{}")
    assert run_dir_for(tmp_path, trial, 840.0) == ranked


FIX = ["--space", "blockcnn", "--fix", "depth=4", "--fix", "width=16", "--fix", "augment=none"]


def _main(argv):
    """(exit code, stdout); stderr's last line joins it when the command fails."""
    from tuning.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + ("" if code == 0 else err.getvalue()[-2000:])


@pytest.fixture(scope="module")
def ranked(tune_env, tmp_path_factory):
    """A 3-trial search with its best retrained (within make train's budget); then ``--rank 3``
    under a 20-minute budget (the clock moves 14 minutes a retraining: the best is reused, one
    more fits), then ``--rank 3`` without a budget. Every completed trial counts as above the
    constant predictor (its score is patched to -1: 1 epoch on 70 images learns nothing to rely
    on, a trial may even score 0). Returns (project, the outputs of the three runs, the first
    run's rank.json, its retrained models, argv)."""
    from tuning import best, budget

    data, base = tune_env
    tmp = tmp_path_factory.mktemp("rank")
    argv = ["--data", str(data), "--config", str(base), "--tuner", "random", "--epochs", "1",
            "--limit", "70", "--max-trials", "3", "--seed", "7", "--dir", str(tmp / "search"), *FIX]
    offset, real_clock, real_retrain = [0.0], budget.clock, best.retrain_trial

    def retrain(tuner, trial, space, base, data, out, *a, **k):
        fresh = not best.retrained(out)
        out = real_retrain(tuner, trial, space, base, data, out, *a, **k)
        offset[0] += 14 * 60 if fresh else 0
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(best, "constant_score", lambda labels, objective: -1.0)
        code, searched = _main(argv)
        assert code == 0, searched
        mp.setattr(budget, "clock", lambda: real_clock() + offset[0])
        mp.setattr(best, "retrain_trial", retrain)
        code, first = _main(argv + ["--rank", "3", "--time-budget", "20m"])
        assert code == 0, first
        project = tmp / "search" / "blockcnn_random"
        partial = json.loads((project / "rank.json").read_text())
        kept = {p.parent.name: p.stat().st_mtime_ns for p in (project / "rank").glob("*/model.keras")}
        code, second = _main(argv + ["--rank", "3", "--time-budget", "none"])
        assert code == 0, second
    return project, searched, first, second, partial, kept, argv


@pytest.mark.e2e  # a search and 4 one-epoch retrainings: about a minute on 2 cores
@pytest.mark.long  # `make test-long` / `make test-e2e`: left out of CI for its 8 minutes
def test_rank_stops_within_its_budget_and_resumes(ranked):
    project, _, first, second, partial, kept, _ = ranked
    table = pd.read_csv(project / "trials.csv", dtype={"trial": str})
    order = table.sort_values(["score", "trial"], ascending=[False, True])["trial"].tolist()
    best_id, mid_id, worst_id = (str(int(t)) for t in order)
    assert first.splitlines()[0].startswith(
        "ranking: retraining 3 trials, about 3 x 14 min (make train's budget), each on all of "
        f"Training, then evaluated on PublicTest -> {project / 'rank'}; 1 retrained earlier; "
        "time budget 20 min (--time-budget 20m): 1 of the 2 left fit (for all: --time-budget "
        "35m; else run the same command again to continue)")  # 2 x (14 min + 90 s), rounded up
    # the search's best was retrained within the same budget: reused, not trained again
    assert f"trial {best_id} was retrained already: {project / f'best_trial_{best_id}'}" in first
    assert "stopping with 2 of 3 retrained; run the same command again to continue" in first
    assert [r["trial_id"] for r in partial["trials"]] == [best_id, mid_id, worst_id]
    assert partial["retrained"] == 2 and partial["spearman_rho"] is None
    assert partial["trials"][2]["PublicTest"] is None
    assert "Spearman rho: once all 3 are retrained (2 so far" in first
    assert list(kept) == [f"trial_{mid_id}"]
    # the second run keeps the finished retrainings and trains the last
    assert f"trial {mid_id} was retrained already" in second
    assert second.count("retraining trial ") == 1 and f"retraining trial {worst_id} " in second
    model = project / "rank" / f"trial_{mid_id}" / "model.keras"
    assert model.stat().st_mtime_ns == kept[f"trial_{mid_id}"]


@pytest.mark.e2e  # a search and 4 one-epoch retrainings: about a minute on 2 cores
@pytest.mark.long  # `make test-long` / `make test-e2e`: left out of CI for its 8 minutes
def test_rank_writes_rho_of_scores_and_public_test_accuracies(ranked):
    project, _, _, second, _, _, argv = ranked
    result = json.loads((project / "rank.json").read_text())
    table = pd.read_csv(project / "trials.csv")
    by_score = table.sort_values(["score", "trial"], ascending=[False, True])
    assert [r["trial_id"] for r in result["trials"]] == [str(t) for t in by_score["trial"]]
    assert result["k"] == result["retrained"] == 3 and result["retrain_budget"] == "840s"
    accs = []
    for i, (r, (_, t)) in enumerate(zip(result["trials"], by_score.iterrows())):
        # the best: the search's own retraining (evaluated by the search on both splits);
        # the others the rank's, which evaluates PublicTest alone, never PrivateTest
        out = project / (f"best_trial_{r['trial_id']}" if i == 0 else f"rank/trial_{r['trial_id']}")
        assert r["run_dir"] == str(out)
        report = json.loads((out / "eval" / "report.json").read_text())
        assert set(report["splits"]) == ({"PublicTest", "PrivateTest"} if i == 0 else {"PublicTest"})
        assert r["PublicTest"] == report["splits"]["PublicTest"]["accuracy"]
        assert r["score"] == pytest.approx(t["score"]) and r["hyperparameters"]["norm"] == t["norm"]
        summary = json.loads((out / "summary.json").read_text())
        assert r["epochs"] == summary["epochs_run"] == 1 and summary["train_images"] == 280
        accs.append(r["PublicTest"])
    expected = spearman(by_score["score"], accs)
    assert result["spearman_rho"] == (None if np.isnan(expected) else round(expected, 4))
    # a retraining of the rank is the search's best's: the same config but for the folder and
    # what the space sets (the trial's point)
    [best] = project.glob("best_trial_*")
    other = Path(result["trials"][1]["run_dir"])
    space_sets = ("out", "model", "model_args", "optimizer", "augment", "schedule", "loss", "ema")
    config = {k: v for k, v in json.loads((other / "config.json").read_text()).items()
              if k not in space_sets}
    assert config == {k: v for k, v in json.loads((best / "config.json").read_text()).items()
                      if k not in space_sets}
    assert config["limit"] is None and config["time_budget"] == "840s"
    md = (project / "rank.md").read_text()
    assert md.startswith("| trial | trial val_macro_f1 | retrained PublicTest accuracy | epochs | min |")
    assert sum(line.startswith("| ") for line in md.splitlines()) == 1 + 3  # header, 3 trials
    assert result["command"].endswith("--rank 3 --time-budget none")
    assert f"within 14 min (make train's budget): `{result['command']}`" in md
    assert md.strip() in second


@pytest.mark.e2e  # a search and 4 one-epoch retrainings: about a minute on 2 cores
@pytest.mark.long  # `make test-long` / `make test-e2e`: left out of CI for its 8 minutes
def test_rank_needs_k_trials_above_the_constant_predictor(ranked, capsys):
    from tuning import best
    from tuning.cli import main

    project, argv = ranked[0], ranked[-1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(best, "constant_score", lambda labels, objective: -1.0)
        assert main(argv + ["--rank", "5"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        f"error: {project}: --rank 5 needs 5 completed trials that score above always predicting "
        "the most common class (val_macro_f1 -1.0000); this search has 3: run it longer, or rank "
        "fewer")
    assert "Traceback" not in err and err.count("error:") == 1
    assert main(argv + ["--rank", "1"]) == 2
    assert "--rank 1: a rank correlation needs at least 2 trials" in capsys.readouterr().err


def test_rank_needs_a_search_and_writes_nothing_without_one(tmp_path, capsys):
    from tuning.cli import main

    assert main(["--dir", str(tmp_path / "none"), "--rank", "6"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: --rank: no search to rank in {tmp_path / 'none' / 'efficient_hyperband'}; run the "
        "search first (the same command without --rank)")
    assert not (tmp_path / "none").exists()
    assert main(["--dir", str(tmp_path), "--rank", "6", "--release"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --rank retrains trials to rank them and "
                                               "releases none: drop --release")


def test_rank_refuses_a_smoke_test(tmp_path, capsys):
    """A search under 8 minutes of trials held mini-Xception at batch 32 (tuning.fidelity): its
    trials are not the recipe's, and --rank says so before loading anything."""
    from tuning.cli import main
    from tuning.state import SETTINGS_FILE

    project = tmp_path / "efficient_hyperband"
    (project / "trial_00").mkdir(parents=True)
    (project / SETTINGS_FILE).write_text(json.dumps({"cpu_smoke": {"trial": {"batch_size": 32}}}))
    assert main(["--dir", str(tmp_path), "--rank", "6"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: --rank: this search is a CPU smoke test (under 8m of trials), whose trials rank "
        "nothing; rank a search of 15m or more")
    assert sorted(p.name for p in project.iterdir()) == [SETTINGS_FILE, "trial_00"]
