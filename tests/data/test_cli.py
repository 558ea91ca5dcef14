"""``python -m keras_fer.data prepare|stats``: in-process, plus one subprocess exit-code check."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_fer.data import default_source, load
from keras_fer.data.cli import main
from keras_fer.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def test_stats_table_json_and_plot(classes_csv, tmp_path, capsys):
    path = classes_csv[0]
    assert main(["stats", "--data", str(path), "--plot", str(tmp_path / "dist.png")]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["class", "Training", "PublicTest", "PrivateTest"]
    assert lines[1].split() == ["angry", "2", "14.3%", "1", "14.3%", "1", "14.3%"]
    assert lines[-1].split() == ["total", "14", "100.0%", "7", "100.0%", "7", "100.0%"]
    assert "loaded 28 images" in err
    with Image.open(tmp_path / "dist.png") as im:
        assert im.format == "PNG" and im.size == (800, 450)
    assert main(["stats", "--data", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 28 and report["splits"]["Training"]["counts"]["happy"] == 2
    assert report["splits"]["PublicTest"]["percent"]["sad"] == 14.29


def test_prepare_writes_npz_and_samples(release_dir, tmp_path, capsys):
    root, _ = release_dir
    out = tmp_path / "data"
    assert main(["prepare", "--src", str(root), "--out", str(out)]) == 0
    assert "total" in capsys.readouterr().out
    prepared, source = load(out), load(root, cache=False)
    np.testing.assert_array_equal(prepared.images, source.images)
    assert prepared.splits.tolist() == source.splits.tolist()
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["happy_0.png", "sad_0.png"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp files left
    # a second prepare into the same folder (another source, say) replaces it only with --force
    written = (out / "fer2013.npz").read_bytes()
    assert main(["prepare", "--src", str(root), "--out", str(out), "--per-class", "1"]) == 2
    assert "fer2013.npz: already prepared" in capsys.readouterr().err
    assert (out / "fer2013.npz").read_bytes() == written
    assert main(["prepare", "--src", str(root), "--out", str(out), "--per-class", "1",
                 "--force"]) == 0
    assert len(load(out)) < len(prepared)


def test_prepare_reads_FER2013_SRC_when_no_src_is_given(release_dir, tmp_path, monkeypatch, capsys):
    root, _ = release_dir
    monkeypatch.setenv("FER2013_SRC", str(root))
    out = tmp_path / "data"
    assert main(["prepare", "--out", str(out)]) == 0
    assert f"loaded 8 images from {root}" in capsys.readouterr().err
    assert len(load(out)) == 8


def test_prepare_without_a_source_names_the_option_and_the_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FER2013_SRC", raising=False)
    assert main(["prepare", "--out", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: no FER2013 source given: pass --src PATH (fer2013.csv, train.csv, an image folder "
        "or its .zip) or set FER2013_SRC"]
    assert not (tmp_path / "data").exists()


def test_the_library_has_no_source_location_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("FER2013_SRC", raising=False)
    with pytest.raises(UserError, match=r"^no FER2013 source given: pass --data PATH .* set FER2013_SRC$"):
        default_source("--data")
    monkeypatch.setenv("FER2013_SRC", str(tmp_path / "fer.zip"))
    assert default_source() == tmp_path / "fer.zip"  # as given: prepare says if it is missing


def test_user_mistakes_exit_2_one_line(tmp_path, capsys, synth):
    assert main(["stats", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no FER2013 data at") and "make data" in err[0]
    bad = tmp_path / "fer2013.csv"
    synth.write_csv(bad, [(9, "Training")])
    assert main(["stats", "--data", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {bad}: line 2: emotion label 9 outside 0..6"
    assert main(["stats", "--data", str(bad), "--plot", "x.jpg"]) == 2
    assert main(["prepare", "--src", str(tmp_path / "nope.zip"), "--out", str(tmp_path)]) == 2


def test_cli_subprocess_no_traceback(tmp_path):
    env = {**os.environ, "FER2013_DATA": str(tmp_path / "nowhere")}
    proc = subprocess.run([sys.executable, "-m", "keras_fer.data", "stats"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "nowhere" in proc.stderr and "FER2013_SRC" in proc.stderr
