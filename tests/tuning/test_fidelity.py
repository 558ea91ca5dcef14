"""The search a CPU can afford (tuning/fidelity.py): x0.25 networks, stratified subsets, and
Hyperband trials no shorter than their warm-up plus the EMA's horizon; the retraining gets make
train's budget, the plan says so, and the end prints the search's best beside make train's."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from keras_fer.config import load_config
from keras_fer.durations import parse_duration
from keras_fer.errors import UserError
from keras_fer.resources import recipe
from tuning import budget as time_budget
from tuning.budget import Budget, Estimator, hyperband_epochs
from tuning.fidelity import FINAL_STEPS, MIN_STEPS, RANK_BUDGET, SMOKE_S, choose, trial_needs
from tuning.plan import SearchPlan, first_lines
from tuning.spaces import get_space

REPO = Path(__file__).resolve().parents[2]
BUDGETS = ("5m", "10m", "20m", "45m", "2h", "2h59m")


@pytest.mark.parametrize("space_name", ["efficient", "blockcnn"])
@pytest.mark.parametrize("text", BUDGETS)
def test_the_cpu_plan_never_gives_a_trial_fewer_epochs_than_warmup_and_ema_need(space_name, text):
    space = get_space(space_name)
    base = space.base()
    seconds = parse_duration(text)
    budget = Budget(seconds, start=0)
    search_s = budget.search_end - budget.start
    fid = choose(space, base, seconds, search_s, None)
    assert fid.cpu and fid.min_epochs >= 4 and fid.limit in (4000, 8000, 16000)
    # under SMOKE_S of trials (5m, 10m: 110 s, 310 s) a smoke test, at batch 32
    assert bool(fid.trial) == (text in ("5m", "10m")) == (search_s < SMOKE_S)
    base = base.replace(**fid.trial)
    steps = -(-fid.limit // base.batch_size)
    assert fid.min_epochs * steps >= MIN_STEPS
    # the last round, where the recipe is compared (tuning.incumbent), ranks finishers
    assert fid.epochs * steps >= FINAL_STEPS and fid.epochs == 3 * fid.min_epochs
    epochs = hyperband_epochs(fid.epochs, 3, fid.min_epochs)
    assert min(epochs) == fid.min_epochs and len(epochs) >= 8
    for e in set(epochs):  # each trial's schedule and EMA span its own epochs
        assert e > trial_needs(space, base, e, steps), (e, trial_needs(space, base, e, steps))
    assert (fid.fixed == {"width": 0.25}) == (space_name == "efficient")
    widths = [hp.values for hp in fid.space(space).hyperparameters() if hp.name == "width"]
    assert widths == ([[0.25]] if space_name == "efficient" else [[16, 32, 48, 64]])
    if space_name == "efficient":  # VGG19 at x0.25 learned nothing in a CPU search's trials
        [models] = [hp.values for hp in fid.space(space).hyperparameters() if hp.name == "model"]
        assert models == ["vgg13", "mini_xception"]


def test_a_cpu_search_starts_from_make_train_s_recipe_and_its_defaults_are_it():
    """Without a GPU the efficient space's base is recipes/cpu.json (less its budget) and its
    defaults are that recipe: the defaults' retraining is make train's configuration, key for
    key (its monitor included), and the trials monitor the objective."""
    import keras_tuner as kt

    from tuning.cli import parse_args
    from tuning.search import base_config, from_recipe
    from tuning.spaces import EFFICIENT_DEFAULTS

    space = get_space("efficient")
    args = parse_args(["--data", "data"])
    cfg = base_config(args, space, recipe=True)
    recipe_cfg = load_config(recipe("cpu"))
    assert cfg.to_dict() == recipe_cfg.replace(time_budget=None, data="data").to_dict()
    assert from_recipe(args, space, cpu=True) and not from_recipe(args, space, cpu=False)
    assert not from_recipe(parse_args(["--config", "my.json"]), space, cpu=True)
    assert not from_recipe(args, get_space("blockcnn"), cpu=True)
    fid = choose(space, cfg, 45 * 60, 1860, None, centred=True)
    values = fid.space(space).declare(kt.HyperParameters())
    assert values == {**EFFICIENT_DEFAULTS, "width": 0.25, "erasing": 0.0, "adam_learning_rate": None}
    retrain = space.apply(cfg, values, 225)  # all of Training: 28,709 / 128
    assert retrain.to_dict() == cfg.to_dict()
    assert (retrain.ema, retrain.schedule["warmup_epochs"], retrain.monitor) == (0.998, 2, "val_accuracy")
    # a GPU (or a --config) keeps the space's own base, monitored on the objective
    gpu = base_config(args, space)
    assert gpu.monitor == args.objective and gpu.model_args == {} and gpu.ema is None
    assert "defaults" not in choose(space, gpu, 45 * 60, 1860, "H200", centred=True).narrow
    assert "defaults" not in choose(space, gpu, 45 * 60, 1860, None).narrow


def test_a_search_too_short_to_rank_smoke_tests_with_trials_that_learn():
    """Under 8 minutes of trials: batch 32, no affine, mini-Xception with Adam, a cosine and no
    EMA held (what learned on 4,000 images in 750 steps), and the plan says it does not rank;
    a --fix-ed name stays the user's."""
    from tuning.search import fixed_hyperparameters

    space = get_space("efficient")
    base = space.base()
    fid = choose(space, base, 5 * 60, 300, None)
    assert fid.trial == {"batch_size": 32, "augment": {"flip": True, "crop": 44, "pad": 0}}
    assert fid.fix == ["model=mini_xception", "optimizer=adam", "schedule=cosine", "erasing=0.0",
                       "mix=none", "ema=false"]
    assert (fid.limit, fid.min_epochs, fid.epochs) == (4000, 6, 18)
    assert fid.note.startswith("CPU smoke test (under 8m of trials, too short to rank make "
                               "train's recipe: that needs --time-budget 15m or more): trials "
                               "of 6-18 epochs on 4,000 Training images at batch 32")
    trial_base = base.replace(**fid.trial, epochs=fid.min_epochs)
    values = fid.space(space).declare(fixed_hyperparameters(fid.space(space), fid.fix).copy())
    cfg = space.apply(trial_base, values, 125)
    assert (cfg.model, cfg.optimizer, cfg.ema, cfg.batch_size) == (
        "mini_xception", {"name": "adam", "learning_rate": 1e-3}, None, 32)
    assert cfg.schedule["name"] == "cosine" and cfg.augment == fid.trial["augment"]
    mine = choose(space, base, 5 * 60, 300, None, fixed_names=["model"])
    assert "model=mini_xception" not in mine.fix and "optimizer=adam" in mine.fix
    assert not choose(space, base, 10 * 60, SMOKE_S, None).trial
    # RANK_BUDGET, which the note names, is the first whole minute out of the smoke test
    for minutes, smoke in ((14, True), (15, False)):
        budget = Budget(minutes * 60, start=0)
        assert (budget.search_end - budget.start < SMOKE_S) == smoke
    assert parse_duration(RANK_BUDGET) == 15 * 60
    assert choose(get_space("blockcnn"), base, 5 * 60, 300, None).fix == ["optimizer=adam",
                                                                          "augment=none"]


def test_a_gpu_or_three_hours_keep_the_full_spaces():
    space = get_space("efficient")
    assert not choose(space, space.base(), 2700, 1800, "H200").cpu
    assert not choose(space, space.base(), 3 * 3600, 3 * 3600, None).cpu
    assert not choose(space, space.base(), None, None, None).cpu


def test_hyperband_with_min_epochs_is_kerastuners(hyperband_trial_epochs):
    """The trials, in order, as KerasTuner's oracle creates them once set_min_epochs ran."""
    got = hyperband_trial_epochs(15, min_epochs=5)
    assert got == hyperband_epochs(15, 3, 5) and min(got) == 5


def test_the_retraining_gets_make_train_s_budget_and_the_plan_says_so(monkeypatch):
    monkeypatch.setattr(time_budget, "clock", lambda: 1000.0)
    make_train = parse_duration(load_config(recipe("cpu")).time_budget)
    assert make_train == 14 * 60
    budget = Budget(45 * 60)
    assert budget.retrain_s == make_train
    assert budget.search_end == 1000 + 45 * 60 - make_train - time_budget.EVAL_RESERVE_S
    est = Estimator({"setup_seconds": 10.0, "epoch_seconds": 30.0, "img_per_s": 100.0,
                     "val_images": 100, "val_seconds": 1.0})
    space = get_space("efficient")
    fid = choose(space, space.base(), 45 * 60, budget.search_end - 1000, None)
    plan = SearchPlan(budget, est, "hyperband", fid.epochs, 20, fid.limit, 3589, 128,
                      retrain=(28709, 3589, 7178, 30), min_epochs=fid.min_epochs, note=fid.note)
    head, detail, then = first_lines(plan, "the default without a GPU", "efficient", "hyperband")
    assert ("CPU search: x0.25 networks, trials of 12-36 epochs on 8,000 Training images; it will "
            "not train x0.375-x0.75 networks or VGG19 (they need --time-budget 3h or a GPU)") in head
    assert "hyperband over the efficient space, 12-36 epoch(s) a trial on 8,000" in detail
    assert then == ("then: the best retrained on all 28,709 Training images within 14 min (make "
                    "train's budget, recipes/cpu.json; at most 30 epochs) and evaluated on "
                    "PublicTest and PrivateTest")
    assert Budget(5 * 60).retrain_s == 100  # a third of a short budget
    assert Budget(45 * 60, retrain=False).retrain_s is None


def _fake_report(run_dir, accuracy):
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "eval" / "report.json").write_text(json.dumps(
        {"splits": {"PublicTest": {"accuracy": accuracy, "macro_f1": 0.5}}}))


def test_the_baseline_is_make_train_s_publictest_accuracy(tmp_path):
    from tuning.best import read_baseline

    _fake_report(tmp_path / "latest", 0.6215)
    assert read_baseline(tmp_path / "latest") == {"run_dir": str(tmp_path / "latest"),
                                                  "PublicTest": 0.6215}
    with pytest.raises(UserError, match=r"^--baseline .*nothing: no PublicTest accuracy in"):
        read_baseline(tmp_path / "nothing")


def test_the_summary_prints_the_search_s_best_beside_make_train_s(tmp_path):
    from tuning.best import summary_line

    run = tmp_path / "best_trial_3"
    _fake_report(run, 0.6312)
    (run / "summary.json").write_text(json.dumps({"epochs_run": 27}))
    (run / "search.json").write_text(json.dumps(
        {"trial_id": "3", "baseline": {"run_dir": "saved_models/latest", "PublicTest": 0.6215}}))
    assert summary_line(run).splitlines()[-1] == (
        "search best 0.6312 vs make train's recipe 0.6215 (PublicTest; saved_models/latest)")


def test_one_png_of_score_against_each_hyperparameter(tmp_path):
    from tuning.report import HPARAMS_PNG, hyperparameter_columns, write_report

    table = pd.DataFrame({
        "trial": ["0", "1", "2", "3"], "status": ["COMPLETED"] * 3 + ["RUNNING"],
        "score": [0.3, 0.4, 0.2, None], "best_epoch": [1, 2, 3, None], "epochs": [4, 4, 4, 1],
        "seconds": [1.0] * 4, "steps_per_s": [1.0] * 4, "width": [0.25] * 4,
        "optimizer": ["sgd", "adam", "sgd", "adam"], "sgd_learning_rate": [0.01, None, 0.1, None],
        "ema": [True, False, True, True], "tuner/epochs": [4, 4, 12, 12]})
    assert hyperparameter_columns(table) == ["optimizer", "sgd_learning_rate", "ema"]
    write_report(table, tmp_path, "val_macro_f1")
    assert (tmp_path / HPARAMS_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "trials.csv").is_file() and (tmp_path / "trials.png").is_file()
    # Hyperband's rounds in their own colours; a log axis labels its decades only
    from matplotlib.ticker import NullFormatter

    from tuning.report import hyperparameter_figure

    fig = hyperparameter_figure(table, "val_macro_f1")
    optimizer, rate, ema = fig.axes[:3]
    assert [t.get_text() for t in optimizer.get_legend().get_texts()] == ["4 epochs", "12 epochs"]
    assert [len(line.get_xdata()) for line in optimizer.get_lines()] == [2, 1]
    assert rate.get_xscale() == "log" and isinstance(rate.xaxis.get_minor_formatter(), NullFormatter)
    assert sorted(x for line in rate.get_lines() for x in line.get_xdata()) == [0.01, 0.1]


def test_keras_tuner_is_pinned_to_the_range_whose_private_attributes_we_use():
    """tuning/search.py uses HyperbandOracle's _current_bracket, _brackets, _get_num_brackets,
    _start_new_bracket (set_min_epochs), _get_size, _get_epochs and _remove_completed_brackets
    (tuning.incumbent) and the oracles' _random_values and _tried_so_far (defaults_first):
    requirements.txt pins KerasTuner to the minor version they were read
    from (tuning/README.md says so)."""
    import keras_tuner as kt

    line = next(line.split("#")[0].strip() for line in
                (REPO / "requirements.txt").read_text().splitlines() if line.startswith("keras-tuner"))
    assert line == "keras-tuner>=1.4.8,<1.5"
    major, minor, patch = (int(p) for p in re.match(r"(\d+)\.(\d+)\.(\d+)", kt.__version__).groups())
    assert (1, 4, 8) <= (major, minor, patch) < (1, 5, 0)
    oracle = kt.oracles.HyperbandOracle(kt.Objective("score", "max"), max_epochs=9)
    for name in ("_current_bracket", "_brackets", "_get_num_brackets", "_start_new_bracket",
                 "_random_values", "_tried_so_far", "min_epochs", "_get_size", "_get_epochs",
                 "_remove_completed_brackets"):
        assert hasattr(oracle, name), name


@pytest.mark.e2e
@pytest.mark.long  # 2 minutes: `make test-long`, not CI's (its 8 minutes)
def test_a_five_minute_search_s_first_trial_learns(fer_zip, tmp_path):
    """`python -m tuning --time-budget 5m --limit 4000 --no-retrain --max-trials 1` on the real
    FER2013 (../shared's zip: under CI a missing one fails, never skips), a smoke test of what a
    laptop's `make tune BUDGET=5m` trains first, the space's defaults: it completes as the
    plan sized it (6 epochs, batch 32) and scores above twice what always answering the most
    common class scores (0.180-0.266 against its 0.057, docs/measurements.md). One trial, not
    the whole 5 minutes (6 trials on an idle machine): the whole search took a third of the
    suite's CPU, and how many trials fit depends on what else the cores run."""
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "tuning", "--data", str(fer_zip), "--time-budget", "5m", "--limit",
         "4000", "--no-retrain", "--max-trials", "1", "--dir", str(tmp_path / "search")],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO), "KERAS_FER_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    from keras_fer.data import load
    from tuning.best import constant_score

    full = load(fer_zip, cache_dir=tmp_path / "cache")  # the search's decoded copy
    chance = constant_score(full.labels[full.splits == "PublicTest"], "val_macro_f1")
    table = pd.read_csv(tmp_path / "search" / "efficient_hyperband" / "trials.csv")
    print(proc.stdout[-4000:])
    assert "CPU smoke test" in proc.stdout and "trials of 6-18 epochs on 4,000 Training images " \
        "at batch 32" in proc.stdout
    [row] = table.to_dict("records")
    assert (row["status"], row["epochs"], row["model"], row["optimizer"], row["adam_learning_rate"]
            ) == ("COMPLETED", 6, "mini_xception", "adam", 1e-3)
    assert row["score"] > 2 * chance, (row["score"], chance)
