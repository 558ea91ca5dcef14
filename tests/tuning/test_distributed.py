"""KerasTuner's chief/worker mode on localhost: a chief and two workers share one search."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.long  # three processes, 25 CPU-s: `make test-long` / `make test-e2e`, not CI's 8 minutes
def test_chief_and_two_workers_finish_a_two_trial_search(tune_env, tmp_path):
    data, base = tune_env
    argv = [sys.executable, "-m", "tuning", "--data", str(data), "--config", str(base),
            "--tuner", "random", "--max-trials", "2", "--epochs", "1", "--limit", "14",
            "--dir", str(tmp_path / "search"), "--no-retrain", "--space", "blockcnn",
            "--fix", "depth=4", "--fix", "width=16", "--fix", "augment=none"]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(_free_port()),
           "OMP_NUM_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
    procs = {}
    try:
        for tid in ("chief", "tuner0", "tuner1"):
            log = open(tmp_path / f"{tid}.log", "w")
            procs[tid] = subprocess.Popen(argv, cwd=REPO, env={**env, "KERASTUNER_TUNER_ID": tid},
                                          stdout=log, stderr=subprocess.STDOUT)
        codes = {tid: p.wait(timeout=120) for tid, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    logs = {tid: (tmp_path / f"{tid}.log").read_text() for tid in procs}
    assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}, logs
    project = tmp_path / "search" / "blockcnn_random"
    table = pd.read_csv(project / "trials.csv")  # written by the chief only
    assert list(table["trial"]) == [0, 1] and set(table["status"]) == {"COMPLETED"}
    assert "search finished" in logs["tuner0"] and "search finished" in logs["tuner1"]
    assert "trials.csv" in logs["chief"]
    # each worker ran trials (the oracle hands a new trial to whichever asks first)
    ran = sum(line.startswith(f"{t}: trial ") and " trained " in line
              for t in ("tuner0", "tuner1") for line in logs[t].splitlines())
    assert ran == 2, logs
    # the chief's oracle hands out the space's defaults first (under --fix), then a random point
    first = table.iloc[0]
    assert (first["norm"], first["optimizer"], first["learning_rate"]) == ("batch", "adam", 1e-3)
