import json
import os

import pytest

from keras_fer.io_utils import atomic_path, write_json


def test_atomic_write_keeps_old_file_when_writer_dies(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "good"
    assert os.listdir(tmp_path) == ["model.keras"]  # no temporary left behind


def test_write_json_numpy_values(tmp_path):
    import numpy as np

    write_json(tmp_path / "r.json", {"acc": np.float32(0.5), "cm": np.eye(2, dtype=np.int64)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"acc": 0.5, "cm": [[1, 0], [0, 1]]}


def test_write_json_is_strict_json_non_finite_numbers_are_null(tmp_path):
    import numpy as np

    write_json(tmp_path / "s.json", {"best_value": float("nan"), "last": {"val_loss": np.float32("inf")},
                                     "curve": [1.0, float("-inf")]})
    text = (tmp_path / "s.json").read_text()
    assert "NaN" not in text and "Infinity" not in text

    def refuse(name):
        raise ValueError(f"bare {name} in JSON")

    assert json.loads(text, parse_constant=refuse) == {"best_value": None, "last": {"val_loss": None},
                                                       "curve": [1.0, None]}


def test_check_out_dir_names_the_file_or_read_only_folder(tmp_path):
    from keras_fer.errors import UserError
    from keras_fer.io_utils import check_out_dir, ensure_out_dir

    (tmp_path / "notes.txt").write_text("x")
    for bad in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "a" / "b"):
        with pytest.raises(UserError, match=f"{bad}: cannot write there: {tmp_path / 'notes.txt'} is a file"):
            check_out_dir(bad)
    assert check_out_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checked, not created
    assert ensure_out_dir(tmp_path / "new" / "deeper").is_dir()
    if os.geteuid() != 0:  # root writes into read-only folders (tests/test_bad_inputs.py: as a user)
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(UserError, match="ro is read-only"):
            check_out_dir(ro / "out")


def test_a_full_disk_is_one_line_naming_the_folder_and_no_temporary_is_left(tmp_path, capsys):
    import errno

    from keras_fer.errors import DiskFull, cli_main

    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(DiskFull, match=f"^{tmp_path}: no space left on the device"):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]

    @cli_main
    def main(argv=None):  # a write no disk_full_is_user_error names: cli_main's last resort
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "w.bin"))

    assert main([]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'w.bin'}: no space left on the "
                                       "device (disk full)\n")


def test_tensorflows_disk_full_error_is_one_too(tmp_path):
    # TensorFlow's SaveV2 raises a ResourceExhaustedError (no OSError) with the OS's words
    from keras_fer.errors import DiskFull
    from keras_fer.io_utils import disk_full_is_user_error

    partial = tmp_path / "savedmodel"
    partial.mkdir()
    with pytest.raises(DiskFull, match=f"^{tmp_path}: no space left"):
        with disk_full_is_user_error(tmp_path, partial):
            raise RuntimeError(f"{partial}/variables: No space left on device [Op:SaveV2]")
    assert not partial.exists()
    with pytest.raises(RuntimeError, match="other"):  # anything else goes through as it is
        with disk_full_is_user_error(tmp_path):
            raise RuntimeError("other")
