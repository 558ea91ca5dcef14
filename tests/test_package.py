"""The wheel: it carries the released model and the recipes, declares requirements.txt as its
dependencies and the keras-fer command, and works alone: installed (without dependencies,
which this venv has) into a temporary folder, keras_fer.load() and `keras-fer predict` run from
another temporary folder with nothing of the checkout on the path."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "keras_fer", "tuning",
           "recipes", "saved_models/best", *[p.name for p in REPO.glob("requirements*.txt")]]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
RELEASE_SKIP = shutil.ignore_patterns("vis", "predict", ".*")  # what predict/visualize add

API = """
import json, sys
import numpy as np
import keras_fer
from keras_fer import resources
import keras_fer.predict.core as core
rec = keras_fer.load()
crops = [np.full((48, 48), 90, "uint8"), np.arange(96 * 80 * 3, dtype="uint8").reshape(96, 80, 3)]
print(json.dumps({"files": [keras_fer.__file__, core.__file__], "release": str(resources.release_dir()),
                  "recipes": str(resources.recipes_dir()), "classes": rec.classes,
                  "no_face": rec.detect_emotions(np.zeros((120, 160, 3), "uint8")),
                  "probs": rec.predict_faces(crops).tolist(), "paths": sys.path}))
"""


def released_files(folder):
    """Relative paths of the files the wheel must carry from ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and not {"vis", "predict", "__pycache__"} & set(p.relative_to(folder).parts))


def requirement_lines(path):
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name,
                            ignore=RELEASE_SKIP if name.startswith("saved_models") else SKIP)
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", str(src), "-w", str(dist)],
                   check=True, capture_output=True, timeout=600)
    [path] = dist.glob("keras_fer-*.whl")
    return path


def test_wheel_contents(wheel):
    import keras_fer

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        model = z.read("keras_fer/assets/best/model.keras")
    for folder, packaged in ((REPO / "saved_models" / "best", "keras_fer/assets/best"),
                             (REPO / "recipes", "keras_fer/assets/recipes")):
        expected = released_files(folder)
        assert expected and {f"{packaged}/{f}" for f in expected} <= names
    assert model == (REPO / "saved_models" / "best" / "model.keras").read_bytes()
    assert "keras_fer/assets/haarcascade_frontalface_default.xml" in names
    modules = {str(p.relative_to(REPO)) for pkg in ("keras_fer", "tuning")
               for p in (REPO / pkg).rglob("*.py")}
    assert modules and modules <= names
    assert "keras-fer = keras_fer.cli:main" in entry
    assert f"\nVersion: {keras_fer.__version__}\n" in meta
    requires = [line[len("Requires-Dist: "):] for line in meta.splitlines()
                if line.startswith("Requires-Dist: ") and "extra ==" not in line]
    assert len(requires) == len(requirement_lines(REPO / "requirements.txt"))
    assert any(r.startswith("tensorflow>=") for r in requires)
    assert "Provides-Extra: onnx" in meta and "Provides-Extra: mtcnn" in meta


def test_installed_wheel_alone_loads_and_predicts(wheel, tmp_path):
    from keras_fer.predict.core import Predictor

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), KERAS_BACKEND="tensorflow")
    proc = subprocess.run([sys.executable, "-c", API], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [Path(f) for f in out["files"]] == [site / "keras_fer" / "__init__.py",
                                               site / "keras_fer" / "predict" / "core.py"]
    assert Path(out["release"]) == site / "keras_fer" / "assets" / "best"
    assert Path(out["recipes"]) == site / "keras_fer" / "assets" / "recipes"
    assert str(REPO) not in out["paths"]
    assert out["no_face"] == [] and len(out["classes"]) == 7
    probs = np.array(out["probs"])
    crops = [np.full((48, 48), 90, "uint8"),
             np.arange(96 * 80 * 3, dtype="uint8").reshape(96, 80, 3)]
    checkout = Predictor(REPO / "saved_models" / "best")
    np.testing.assert_allclose(probs, checkout.predict_faces(crops), atol=1e-6)

    face = np.kron(np.arange(36, dtype="uint8").reshape(6, 6) * 7, np.ones((8, 8), "uint8"))
    Image.fromarray(face).save(elsewhere / "face.png")
    script = site / "bin" / "keras-fer"
    proc = subprocess.run([str(script), "predict", "face.png", "--no-detect", "--json"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [record] = json.loads(proc.stdout)["images"]
    assert record["input"] == "face.png" and record["box"] == [0, 0, 48, 48]
    ref = checkout.predict_faces([face])[0]
    assert record["label"] == out["classes"][int(np.argmax(ref))]
    assert not (elsewhere / "predict").exists()  # images write nothing without --out
