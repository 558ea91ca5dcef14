"""Experiment files: the shipped five parse into valid TrainConfigs naming registered models;
mistakes in a file are one-line errors naming it; PrivateTest goes to the validation choice only."""
import json
import math
from pathlib import Path

import pytest

from keras_fer.config import TrainConfig
from keras_fer.experiments import BEST_VALIDATION, choose_run, comparison_table, load_experiment
from keras_fer.experiments.cli import main
from keras_fer.experiments.runner import RunResult

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("small_cnn_ablation", "dacl", "cnn_comparison", "optimizer_lr_grid", "prelu_resnet",
           "batchnorm_lr", "batchnorm_head", "dacl_48")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_parse_and_name_registered_models(name):
    from keras_fer.models import list_models

    exp = load_experiment(REPO / "experiments" / f"{name}.json")
    assert exp.name == name
    assert all(isinstance(r.config, TrainConfig) for r in exp.runs)
    assert {r.config.model for r in exp.runs} <= set(list_models())
    assert set(exp.published) <= {r.name for r in exp.runs}


def test_shipped_studies_match_the_issue():
    ablation = load_experiment(REPO / "experiments" / "small_cnn_ablation.json")
    models = {r.config.model for r in ablation.runs}
    assert {"baseline", "depth5", "depth6", "depth7", "kernel_5_3", "kernel_5_5", "kernel_7_3",
            "kernel_7_5", "batchnorm", "instancenorm"} <= models
    assert ablation.run("augmented").config.augment["alternate"] is True
    assert ablation.run("weighted_loss").config.loss == {"name": "class_weighted"}
    grid = load_experiment(REPO / "experiments" / "optimizer_lr_grid.json")
    pairs = {(r.config.optimizer["name"], r.config.optimizer["learning_rate"]) for r in grid.runs}
    assert pairs == {(o, lr) for o in ("sgd", "rmsprop", "adam") for lr in (0.01, 0.001, 0.00001)}
    cv = load_experiment(REPO / "experiments" / "cnn_comparison.json")
    assert [r.config.folds for r in cv.runs] == [5, 5, 5, 5]
    assert [r.config.model for r in cv.runs] == ["cnn_model1", "cnn_model2", "cnn_model3", "resnet50"]
    dacl = load_experiment(REPO / "experiments" / "dacl.json")
    assert [r.config.model for r in dacl.runs] == ["dacl", "dacl_center", "dacl_softmax"]
    assert dacl.base.batch_size == 64 and dacl.base.schedule == {"name": "step", "every": 20, "factor": 0.1}
    # the authors' code: Resize(256), RandomFiveCrop(224), RandomHorizontalFlip; CenterCrop(224)
    assert dacl.base.augment == {"flip": True, "crop": 42, "five_crop": True}
    assert dacl.base.model_args == {"input_shape": [42, 42, 1]}
    prelu = load_experiment(REPO / "experiments" / "prelu_resnet.json").runs[0].config
    assert (prelu.optimizer, prelu.batch_size, prelu.epochs, prelu.val, prelu.val_fraction) == (
        {"name": "adam", "learning_rate": 0.0002}, 32, 30, "split", 0.2)


def test_batchnorm_follow_up_reuses_the_ablation_runs_it_shares():
    """Only the batch-norm runs at the other optimizers are new: the other four have exactly the
    settings of an ablation run, so the runner copies them instead of training them again."""
    ablation = {r.name: r.config.to_dict() for r in
                load_experiment(REPO / "experiments" / "small_cnn_ablation.json").runs}
    follow_up = load_experiment(REPO / "experiments" / "batchnorm_lr.json")
    same = {r.name: next(a for a, cfg in ablation.items() if cfg == r.config.to_dict())
            for r in follow_up.runs if r.config.to_dict() in ablation.values()}
    assert same == {"baseline_sgd_0.01": "baseline", "batchnorm_sgd_0.01": "batchnorm",
                    "baseline_sgd_0.001": "sgd_0.001", "baseline_adam_0.001": "adam_0.001"}
    new = {r.name: (r.config.model, r.config.optimizer) for r in follow_up.runs if r.name not in same}
    assert new == {"batchnorm_sgd_0.001": ("batchnorm", {"name": "sgd", "learning_rate": 0.001,
                                                         "momentum": 0.9}),
                   "batchnorm_adam_0.001": ("batchnorm", {"name": "adam", "learning_rate": 0.001})}


def test_batchnorm_head_changes_one_thing_at_a_time():
    """Its reference is the ablation's batchnorm run itself (copied, not retrained); each other
    run differs from it in exactly one setting."""
    ablation = load_experiment(REPO / "experiments" / "small_cnn_ablation.json").run("batchnorm")
    study = load_experiment(REPO / "experiments" / "batchnorm_head.json")
    reference = study.run("batchnorm").config.to_dict()
    assert reference == ablation.config.to_dict()
    changed = {r.name: {k: v for k, v in r.config.to_dict().items() if reference[k] != v}
               for r in study.runs if r.name != "batchnorm"}
    assert changed == {
        "batchnorm_global_pool": {"model_args": {"head": {"pool_grid": 1, "dense": [64],
                                                          "dropout": 0.5}}},
        "batchnorm_warmup": {"schedule": {"name": "cosine", "warmup_epochs": 1, "alpha": 1.0}}}


def _write(tmp_path, **changes):
    d = {"name": "t", "base": {"model": "baseline", "epochs": 1},
         "runs": [{"name": "a", "overrides": {}}, {"name": "b", "overrides": {"batch_size": 8}}]}
    d.update(changes)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"colour": 1}, "unknown key 'colour'"),
    ({"runs": [{"name": "a"}, {"name": "a"}]}, "runs[1]: duplicate run name 'a'"),
    ({"runs": [{"name": "a", "overrides": {"epochs": "x"}}]}, "runs[0] (a): epochs must be int"),
    ({"runs": [{"name": "a", "overrides": {"model": "nope"}}]}, "unknown model 'nope'"),
    ({"report_private": "zzz"}, "report_private must be a run name"),
    ({"published": {"zzz": 0.5}}, "published names 'zzz'"),
    ({"repeats": 0}, "repeats must be an integer >= 1"),
    ({"reference": "zzz"}, "reference must be a run name, got 'zzz'"),
])
def test_bad_file_is_one_line_error_naming_it(tmp_path, capsys, changes, message):
    path = _write(tmp_path, **changes)
    assert main(["run", str(path), "--limit", "14"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and message in err and err.count("\n") == 1


def test_unknown_run_selected_is_an_error(tmp_path, capsys):
    assert main(["run", str(_write(tmp_path)), "--runs", "a,c"]) == 2
    assert "has no run 'c'" in capsys.readouterr().err


def _result(run, seed, acc, f1):
    return RunResult(run, seed, Path(f"/r/{run}-{seed}"),
                     {"val_accuracy": acc, "val_macro_f1": f1, "val_average_accuracy": f1})


def test_private_test_reported_only_for_the_validation_choice(tmp_path):
    exp = load_experiment(_write(tmp_path))
    results = [_result("a", 0, 0.50, 0.40), _result("a", 1, 0.60, 0.50),
               _result("b", 0, 0.54, 0.60), _result("b", 1, 0.54, 0.60)]
    assert exp.report_private == BEST_VALIDATION and exp.base.monitor == "val_accuracy"
    assert choose_run(exp, results) == "a"  # mean 0.55 > 0.54; PrivateTest plays no part
    exp.base.monitor = "val_macro_f1"
    assert choose_run(exp, results) == "b"
    table = comparison_table(exp, {"results": results, "chosen": "b", "private": [0.3, 0.5]})
    rows = table.set_index("run")
    assert rows.loc["b", "private_accuracy_mean"] == pytest.approx(0.4)
    assert rows.loc["b", "private_accuracy_std"] == pytest.approx(0.1414213, rel=1e-5)
    assert math.isnan(rows.loc["a", "private_accuracy_mean"])
    assert rows.loc["a", "val_accuracy_mean"] == pytest.approx(0.55)
    assert rows.loc["a", "val_accuracy_std"] == pytest.approx(0.0707107, rel=1e-5)
    assert list(rows["chosen"]) == ["", "yes"] and list(rows["n"]) == [2, 2]
    exp.report_private = "a"  # a run named in the file wins over the rule
    assert choose_run(exp, results) == "a"


def test_dacl_48_is_the_dacl_study_at_48_pixels():
    """Same runs, models, losses, optimizer and schedule as dacl.json; only the resize differs."""
    full = load_experiment(REPO / "experiments" / "dacl.json")
    small = load_experiment(REPO / "experiments" / "dacl_48.json")
    assert [r.name for r in small.runs] == [r.name for r in full.runs]
    for a, b in zip(full.runs, small.runs):
        diff = {k: (v, b.config.to_dict()[k]) for k, v in a.config.to_dict().items()
                if b.config.to_dict()[k] != v}
        assert diff == {"model_args": ({"input_shape": [42, 42, 1]},
                                       {"input_shape": [42, 42, 1], "image_size": 48})}, a.name


def test_a_smoke_run_never_writes_into_the_committed_results(tmp_path, monkeypatch, capsys):
    from keras_fer.experiments import cli

    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path)
    name = json.loads(path.read_text())["name"]
    committed = tmp_path / "experiments" / "results" / name
    committed.mkdir(parents=True)
    (committed / "results.json").write_text('{"chosen": "a"}\n')
    outs = []

    def results(exp, outcome, out, argv):  # what write_results returns, without training
        outs.append(Path(out))
        (Path(out) / "table.md").parent.mkdir(parents=True, exist_ok=True)
        (Path(out) / "table.md").write_text("table\n")
        return {"md": Path(out) / "table.md"}

    monkeypatch.setattr(cli, "run_experiment", lambda exp, out, **kw: {})
    monkeypatch.setattr(cli, "write_results", results)
    smoke = Path("runs") / "experiments" / name
    assert main(["run", str(path), "--limit", "50"]) == 0
    assert main(["run", str(path), "--epochs", "1"]) == 0
    assert main(["run", str(path), "--set", "limit=50"]) == 0
    assert outs == [smoke] * 3
    capsys.readouterr()
    assert main(["run", str(path), "--limit", "50", "--out", f"experiments/results/{name}"]) == 2
    assert "a smoke run (--limit/--epochs) never writes into experiments/results" in capsys.readouterr().err
    assert main(["run", str(path)]) == 2
    assert capsys.readouterr().err == (f"error: experiments/results/{name}: committed results are "
                                       "there; pass --force to replace them\n")
    assert sorted(p.name for p in committed.iterdir()) == ["results.json"]
    assert main(["run", str(path), "--force"]) == 0
    assert outs[-1] == Path("experiments") / "results" / name


def test_a_model_set_on_the_command_line_is_checked_before_any_training(tmp_path, capsys):
    """--set applies to every run after the file is read: its model is checked like the file's,
    after the results folder (whose mistakes answer before Keras is imported)."""
    path = _write(tmp_path)
    assert main(["run", str(path), "--limit", "14", "--set", "model=nope",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: run 'a': unknown model 'nope'") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
