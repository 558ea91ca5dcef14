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
