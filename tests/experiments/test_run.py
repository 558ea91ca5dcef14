"""A --limit smoke run of a two-run experiment on real FER2013 images, in-process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from keras_fer.experiments.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(fer_small, tmp_path_factory):
    from keras_fer.data import save_npz

    tmp = tmp_path_factory.mktemp("exp")
    save_npz(fer_small, tmp / "data" / "fer2013.npz")
    exp = {"name": "smoke", "description": "two optimizers", "source": "test",
           "published": {"sgd": {"val_accuracy": 0.5}},
           "base": {"model": "baseline", "epochs": 3, "batch_size": 16, "tensorboard": False,
                    "verbose": 0, "optimizer": {"name": "sgd", "learning_rate": 0.01}},
           "runs": [{"name": "sgd", "overrides": {}},
                    {"name": "adam", "overrides": {"optimizer": {"name": "adam", "learning_rate": 0.001}}}],
           "report_private": "best validation", "reference": "sgd"}
    path = tmp / "smoke.json"
    path.write_text(json.dumps(exp))
    argv = ["run", str(path), "--limit", "14", "--epochs", "1", "--data", str(tmp / "data"),
            "--out", str(tmp / "out")]
    assert main(argv) == 0
    return tmp / "out", argv


def test_smoke_run_writes_table_curves_commands(smoke):
    out, argv = smoke
    table = pd.read_csv(out / "table.csv")
    assert list(table["run"]) == ["sgd", "adam"] and list(table["n"]) == [1, 1]
    # each run's validation figures are those its run directory kept
    for run in ("sgd", "adam"):
        best = json.loads((out / "runs" / f"{run}-seed0" / "summary.json").read_text())["best"]
        row = table[table["run"] == run].iloc[0]
        assert row["val_accuracy_mean"] == pytest.approx(best["val_accuracy"])
        assert row["val_macro_f1_mean"] == pytest.approx(best["val_macro_f1"])
        hours = json.loads((out / "runs" / f"{run}-seed0" / "summary.json").read_text())[
            "train_cpu_hours"]
        assert row["cpu_hours_mean"] == pytest.approx(hours) and hours > 0
        assert len(pd.read_csv(out / "runs" / f"{run}-seed0" / "history.csv")) == 1  # --epochs 1
    # vs reference: each run's validation accuracy minus sgd's
    assert table["val_accuracy_vs_reference"].tolist() == pytest.approx(
        (table["val_accuracy_mean"] - table["val_accuracy_mean"][0]).tolist())
    assert table["val_accuracy_vs_reference"][0] == 0.0
    # PrivateTest only for the run chosen on validation accuracy
    chosen = table.loc[table["val_accuracy_mean"].idxmax(), "run"]
    results = json.loads((out / "results.json").read_text())
    assert results["chosen"] == chosen
    assert table["private_accuracy_mean"].notna().tolist() == [r == chosen for r in table["run"]]
    report = json.loads((out / "runs" / f"{chosen}-seed0" / "eval" / "report.json").read_text())
    assert results["private_accuracy"] == [pytest.approx(report["splits"]["PrivateTest"]["accuracy"])]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    commands = (out / "commands.txt").read_text()
    assert " ".join(argv[:2]) in commands and "# machine:" in commands
    assert commands.count("python -m keras_fer.train --config") == 2
    # each run's exact config is kept beside the table (runs/ is not committed), and the
    # commands name those copies
    for run in ("sgd", "adam"):
        kept = out / "configs" / f"{run}-seed0.json"
        assert kept.read_text() == (out / "runs" / f"{run}-seed0" / "config.json").read_text()
        assert f"python -m keras_fer.train --config {kept}\n" in commands
    assert "runs/" not in commands
    md = (out / "table.md").read_text()
    assert "sgd" in md and "val_accuracy 0.5" in md and "(chosen)" in md and "Not run" not in md
    assert "| val accuracy vs reference |" in md and "Reference run" in md
    assert "| n | train CPU-hours |" in md
    adam = table[table["run"] == "adam"].iloc[0]
    assert f"| {adam['val_accuracy_vs_reference']:+.4f} |" in md
    assert results["left_out"] == []
    assert "<table" in (out / "index.html").read_text()


def test_rerun_reuses_finished_runs(smoke, capsys):
    out, argv = smoke
    mtime = (out / "runs" / "sgd-seed0" / "model.keras").stat().st_mtime_ns
    assert main(argv + ["--runs", "sgd"]) == 0
    assert "done before" in capsys.readouterr().out
    assert (out / "runs" / "sgd-seed0" / "model.keras").stat().st_mtime_ns == mtime
    # --runs names what to train: adam, measured before, keeps its row
    assert list(pd.read_csv(out / "table.csv")["run"]) == ["sgd", "adam"]
    assert json.loads((out / "results.json").read_text())["left_out"] == []


def test_runs_trains_only_the_named_and_leaves_out_the_unmeasured(smoke, capsys):
    out, argv = smoke
    study = json.loads(Path(argv[1]).read_text())
    study["runs"].append({"name": "adam_fast", "overrides": {"optimizer": {
        "name": "adam", "learning_rate": 0.01}}})
    path = out.parent / "smoke_more.json"
    path.write_text(json.dumps({**study, "name": "smoke"}))
    assert main(["run", str(path), *argv[2:], "--runs", "adam"]) == 0
    printed = capsys.readouterr().out
    assert "training" not in printed and not (out / "runs" / "adam_fast-seed0").exists()
    assert ("adam_fast seed 0: not measured before and not in --runs: adam_fast is left out "
            "this time") in printed
    assert list(pd.read_csv(out / "table.csv")["run"]) == ["sgd", "adam"]
    # the configs follow the table, and the run the file has but did not train is named
    assert sorted(p.name for p in (out / "configs").iterdir()) == ["adam-seed0.json",
                                                                     "sgd-seed0.json"]
    assert json.loads((out / "results.json").read_text())["left_out"] == ["adam_fast"]
    assert ("Not run this time (`--runs`), so not in the table or the choice: adam_fast."
            in (out / "table.md").read_text())
    assert "so not in the table or the choice: adam_fast." in (out / "index.html").read_text()


def test_runs_from_before_the_devices_setting_or_on_other_devices_are_reused(smoke, capsys):
    out, argv = smoke
    config = out / "runs" / "sgd-seed0" / "config.json"
    saved = json.loads(config.read_text())
    assert saved["devices"] == 1
    del saved["devices"]  # as a run trained before the setting existed wrote it
    config.write_text(json.dumps(saved))
    mtime = (out / "runs" / "sgd-seed0" / "model.keras").stat().st_mtime_ns
    for devices in ("1", "all"):
        assert main(argv + ["--runs", "sgd", "--devices", devices]) == 0
        assert "sgd seed 0: done before, reusing" in capsys.readouterr().out
    assert (out / "runs" / "sgd-seed0" / "model.keras").stat().st_mtime_ns == mtime


def test_a_run_another_study_trained_with_the_same_settings_is_copied(smoke, capsys):
    out, argv = smoke
    study = json.loads(Path(argv[1]).read_text())
    study.update(name="other", reference=None, published={},
                 runs=[{"name": "sgd_again", "overrides": {}},  # = smoke's sgd
                       {"name": "sgd_bs8", "overrides": {"batch_size": 8}}])
    path = out.parent / "other.json"
    path.write_text(json.dumps(study))
    other = out.parent / "other_out"
    assert main(["run", str(path), *argv[2:-1], str(other)]) == 0
    printed = capsys.readouterr().out
    src, dst = out / "runs" / "sgd-seed0", other / "runs" / "sgd_again-seed0"
    assert f"{src} was trained with the same settings and seed: copying it to {dst}" in printed
    assert "sgd_bs8 seed 0: training baseline" in printed  # a different setting is trained
    assert (dst / "model.keras").read_bytes() == (src / "model.keras").read_bytes()
    assert json.loads((dst / "config.json").read_text())["out"] == str(dst)
    assert not (dst / "ckpt").exists() and not list(other.glob("runs/*.copying"))
    table = pd.read_csv(other / "table.csv")
    best = json.loads((src / "summary.json").read_text())["best"]
    assert table["val_accuracy_mean"][0] == pytest.approx(best["val_accuracy"])


def test_a_fresh_clone_reuses_the_committed_rows_and_trains_only_what_changed(smoke, capsys):
    import shutil

    out, argv = smoke
    assert main(argv) == 0  # the full study again (an earlier test may have changed the table)
    capsys.readouterr()
    clone = out.parent / "fresh" / "smoke"  # what git keeps: no runs/, and no other study
    shutil.copytree(out, clone, ignore=shutil.ignore_patterns("runs"))
    before = json.loads((out / "results.json").read_text())
    assert main([*argv[:-1], str(clone)]) == 0
    printed = capsys.readouterr().out
    for run in ("sgd", "adam"):
        assert (f"{run} seed 0: measured before with the same settings "
                f"({clone / 'configs' / f'{run}-seed0.json'}") in printed
    assert "training" not in printed and not (clone / "runs").exists()
    again = json.loads((clone / "results.json").read_text())
    assert again["chosen"] == before["chosen"]
    assert again["private_accuracy"] == pytest.approx(before["private_accuracy"])
    assert [r["best"] for r in again["runs"]] == [r["best"] for r in before["runs"]]
    assert again["runs"][0]["history"]["val_accuracy"] == pytest.approx(
        pd.read_csv(out / "runs" / "sgd-seed0" / "history.csv")["val_accuracy"].tolist())
    assert pd.read_csv(clone / "table.csv").equals(pd.read_csv(out / "table.csv"))
    # results written before rows kept their own curves and PrivateTest figure: the chosen
    # run's figures are read from the study's list, in seed order
    old = {**again, "runs": [{k: r[k] for k in ("run", "seed", "run_dir", "best")}
                             for r in again["runs"]]}
    (clone / "results.json").write_text(json.dumps(old))
    assert main([*argv[:-1], str(clone)]) == 0
    assert "training" not in capsys.readouterr().out
    assert json.loads((clone / "results.json").read_text())["private_accuracy"] == pytest.approx(
        before["private_accuracy"])
    # a setting changed since (here adam's committed config) is trained, the other reused
    config = clone / "configs" / "adam-seed0.json"
    config.write_text(config.read_text().replace('"adam"', '"adamw"'))
    assert main([*argv[:-1], str(clone)]) == 0
    printed = capsys.readouterr().out
    assert "sgd seed 0: measured before" in printed and "adam seed 0: training baseline" in printed
    assert sorted(p.name for p in (clone / "runs").iterdir()) == ["adam-seed0"]
    assert (json.loads((clone / "configs" / "adam-seed0.json").read_text())
            == json.loads((clone / "runs" / "adam-seed0" / "config.json").read_text()))


def test_cli_bad_file_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "base": {}, "runs": [}')
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run([sys.executable, "-m", "keras_fer.experiments", "run", str(bad)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {bad}: invalid JSON at line 1")
    assert "Traceback" not in proc.stderr


def test_private_figure_of_a_run_whose_model_is_elsewhere(tmp_path):
    """A reused row keeps the PrivateTest figure measured before; a row that has none (the choice
    moved to a run not chosen then) reports NaN and says why, never a figure it did not measure."""
    from keras_fer.experiments.runner import RunResult, private_figures

    rows = [RunResult("a", 0, tmp_path / "a-seed0", {}, private=0.61),
            RunResult("a", 1, tmp_path / "a-seed1", {})]
    said = []
    figures = private_figures(rows, data=None, limit=None, progress=said.append)
    assert figures[0] == 0.61 and figures[1] != figures[1]  # NaN
    assert said == ["a seed 1: no PrivateTest figure: its model is not on this machine and "
                    "none was measured before"]
