"""A search's --dir and state files: a file or a read-only folder as --dir, and a garbage
oracle.json, trial.json, timing.json or an empty tuner0.json, are one line naming the file, exit
2, before any data is read or file written."""
import os

import pytest

from tuning.cli import main

PROJECT = "blockcnn_random"  # --space blockcnn --tuner random


def _run(tmp_path, capsys):
    code = main(["--space", "blockcnn", "--tuner", "random", "--data", str(tmp_path / "absent"),
                 "--dir", str(tmp_path / "search")])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("name, text", [
    ("oracle.json", "{not json"), ("tuner0.json", ""), ("trial_0/trial.json", "[1, 2]"),
    ("trial_0/timing.json", "\x00\x01garbage")])
def test_a_corrupt_state_file_is_named(tmp_path, capsys, name, text):
    path = tmp_path / "search" / PROJECT / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    code, err = _run(tmp_path, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {path}: ") and "a corrupt search state file" in err[0]
    assert path.read_text() == text and sorted(p.name for p in path.parent.iterdir()) == [
        path.name]


def test_dir_a_file_or_read_only(tmp_path, capsys):
    (tmp_path / "search").write_text("notes\n")
    code, err = _run(tmp_path, capsys)
    # checked as --dir names it, before Keras is imported (tuning.cli.main)
    assert code == 2 and err == [f"error: {tmp_path / 'search'}: cannot write there: "
                                 f"{tmp_path / 'search'} is a file, not a folder"]
    if os.geteuid() != 0:  # root writes anywhere (tests/test_bad_inputs.py drops that power)
        (tmp_path / "search").unlink()
        (tmp_path / "search").mkdir(mode=0o555)
        code, err = _run(tmp_path, capsys)
        assert code == 2 and err[0].endswith("search is read-only")
