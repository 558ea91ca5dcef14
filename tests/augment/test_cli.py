"""python -m keras_fer.augment: the preview grid (in-process main())."""
import json

import numpy as np
import pytest
from PIL import Image

from keras_fer.augment.cli import main


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for name in ("happy", "sad", "angry"):
        (root / name).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_preview_grid(faces, tmp_path, capsys):
    out = tmp_path / "aug.png"
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"model": "baseline", "augment": {"flip": True, "crop": 44,
                                                                "affine": {"rotation": 15}}}))
    assert main([str(cfg), "--data", str(faces), "--views", "3", "--out", str(out)]) == 0
    assert "3 images x 3 training views" in capsys.readouterr().err
    with Image.open(out) as im:
        assert im.size[0] > im.size[1] > 100  # 4 columns, 3 rows


def test_bad_config_is_one_line_exit_2(faces, tmp_path, capsys):
    assert main(['{"blur": 2}', "--data", str(faces), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config: unknown augmentation 'blur'") and err.count("\n") == 1
    assert main(["{not json", "--out", str(tmp_path / "x.png")]) == 2
    assert "neither a file nor valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
