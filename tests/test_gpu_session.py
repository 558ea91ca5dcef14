"""scripts/gpu_session.sh, the one command of each GPU call, run tiny on this CPU (SMOKE=1) and
as on that machine, on JAX with no TensorFlow importable (tests/no_tensorflow.py): training in
mixed precision with the full augmentation, evaluation and the benchmark, and the files it
leaves under $OUT within the device tool's limits (8 files of at most 16 MB)."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.train.conftest import TINY

REPO = Path(__file__).resolve().parents[1]
NO_TF_PYTHON = f"{sys.executable} {REPO / 'tests' / 'no_tensorflow.py'}"
RECIPE = {"model": "baseline", "epochs": 1, "batch_size": 64, "mixed_precision": True,
          "optimizer": {"name": "adam", "learning_rate": 0.003},
          "augment": {"flip": True, "crop": 44, "affine": {"rotation": 10}, "erasing": 0.5}}


def _session(*args, out, data, **env):
    env = dict(os.environ, SMOKE="1", PYTHON=NO_TF_PYTHON, OUT=str(out), DATA=str(data),
               RUN_DIR=str(Path(out).parent / "gpu_run"), **env)
    return subprocess.run(["bash", str(REPO / "scripts" / "gpu_session.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_unknown_step_is_a_usage_error(tmp_path):
    proc = _session("fly", out=tmp_path, data=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("usage: bash scripts/gpu_session.sh all")


def test_all_call_trains_benches_and_returns_a_run_that_reassembles(fer_small_dir, tmp_path):
    """On 2 devices (JAX's virtual CPU devices; DEVICES left at its default, all): data-parallel
    training, and the benchmark (the `bench` step's function, ``keras_fer.bench --devices
    1,all`` of a model file) on 1 and on all 2 devices, with the scaling line."""
    from keras_fer.bench import KEYS

    out = tmp_path / "out"
    tiny = tmp_path / "tiny.json"  # a model file, trained and benched: the tests' tiny CNN
    tiny.write_text(json.dumps(TINY))
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(dict(RECIPE, model=str(tiny))))
    proc = _session("all", str(recipe), out=out, data=fer_small_dir, BENCH_MODELS=str(tiny),
                    XLA_FLAGS=f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DEVICES=all" in proc.stdout.splitlines()
    assert len(list(out.iterdir())) <= 8 and all(p.stat().st_size <= 16 * 2**20 for p in out.iterdir())
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("model.keras.part-")) == [
        "bench.jsonl", "bench.log", "run.tgz", "train.log"]
    lines = [json.loads(ln) for ln in (out / "bench.jsonl").read_text().splitlines()]
    cases, scaling = lines[:2], lines[2:]
    assert [(r["model"], r["augment"], r["backend"], r["devices"]) for r in cases] == [
        (str(tiny), "on", "jax", 1), (str(tiny), "on", "jax", 2)]
    assert all(tuple(r) == KEYS for r in cases)
    assert [r["images"] for r in cases] == [256, 256]  # 2 steps of the global batch of 128
    assert cases[1]["img_per_s_per_device"] == pytest.approx(cases[1]["img_per_s"] / 2, abs=0.1)
    assert [(r["devices"], r["scaling_efficiency"]) for r in scaling] == [
        (2, round(cases[1]["img_per_s"] / (2 * cases[0]["img_per_s"]), 3))]
    log = (out / "train.log").read_text()
    assert "wall seconds, training:" in log and "(exit 0)" in log and "wrote" in log
    assert "data-parallel over 2 devices (keras.distribution.DataParallel)" in log
    assert "tensorflow/tensorboard not installed" in log  # as on the GPU machine
    run = tmp_path / "back"
    with tarfile.open(out / "run.tgz") as tar:
        tar.extractall(run, filter="data")
    parts = sorted(out.glob("model.keras.part-*"))
    assert sorted(p.name for p in (run / "gpu_run").iterdir()) == [
        "config.json", "curves.png", "eval", "history.csv", "meta.json", "summary.json"]
    (run / "gpu_run" / "model.keras").write_bytes(b"".join(p.read_bytes() for p in parts))
    from keras_fer import rundir
    from keras_fer.devices import bfloat16_native

    config = rundir.read_config(run / "gpu_run")
    # the recipe's mixed precision, kept where bfloat16 is native (the GPU machine), else float32
    assert config.limit == 256 and config.mixed_precision == bfloat16_native()
    assert config.augment["erasing"] == 0.5
    assert rundir.read_meta(run / "gpu_run")["backend"] == "jax"
    assert rundir.read_meta(run / "gpu_run")["distribution"]["devices"] == 2
    assert rundir.load_model(run / "gpu_run").output_shape == (None, 7)
    for name in ("report.json", "report_tencrop.json"):
        report = json.loads((run / "gpu_run" / "eval" / name).read_text())
        assert report["splits"]["PrivateTest"]["n"] == 280


def test_all_call_cut_by_its_budget_still_returns_its_logs(fer_small_dir, tmp_path):
    out = tmp_path / "out"
    proc = _session("all", out=out, data=fer_small_dir, BUDGET="1", BENCH_SECONDS="0")
    assert proc.returncode == 124  # `timeout` ended both steps
    assert "wall seconds, training:" in (out / "train.log").read_text()
    assert "(exit 124)" in (out / "train.log").read_text()
    assert (out / "bench.log").is_file() and (out / "bench.jsonl").read_text() == ""


def test_experiment_call_returns_each_study_without_its_runs(fer_small_dir, tmp_path):
    # a shipped study's form with the small baseline network (the shipped studies' runs are
    # built by tests/experiments/test_shipped_smoke.py)
    study = json.loads((REPO / "experiments" / "prelu_resnet.json").read_text())
    study.update(name="tiny", report_private="tiny", runs=[{"name": "tiny", "overrides": {}}],
                 published={"tiny": study["published"]["prelu_resnet"]})
    study["base"]["model"] = "baseline"
    (tmp_path / "tiny.json").write_text(json.dumps(study))
    out = tmp_path / "out"
    proc = _session("experiment", str(tmp_path / "tiny.json"), out=out,
                    data=fer_small_dir, RESULTS=str(tmp_path / "results"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["tiny.log", "tiny.tgz"]
    with tarfile.open(out / "tiny.tgz") as tar:
        names = tar.getnames()
    assert "tiny/table.md" in names and "tiny/commands.txt" in names
    assert not [n for n in names if "/runs" in n]
