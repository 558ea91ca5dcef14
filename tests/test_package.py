"""The wheel: it carries each packaged model once (its int8 TFLite, for LiteRT, with its labels,
reports and card) and the recipes, at most 20 MB; it declares requirements-predict.txt as its
dependencies (no TensorFlow, Keras or KerasTuner) and requirements.txt as keras_fer[train], and
the keras-fer command. It works alone: installed (without dependencies, which this venv has)
into a temporary folder, keras_fer.load() and `keras-fer predict` run from another temporary
folder, with nothing of the checkout on the path and TensorFlow, Keras and JAX out of reach."""
import ast
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
           "recipes", "saved_models/fast", "saved_models/best",
           *[p.name for p in REPO.glob("requirements*.txt")]]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
RELEASE_SKIP = shutil.ignore_patterns("vis", "predict", ".*")  # what predict/visualize add
MAX_WHEEL_BYTES = 20 * 2**20
# what the light interpreter cannot import: a `pip install keras_fer` has none of it
HEAVY = ("tensorflow", "tf_keras", "keras", "jax", "mtcnn", "tensorboard", "tf2onnx")

API = """
import json, sys
import numpy as np
import keras_fer
from keras_fer import resources
import keras_fer.predict.core as core
from keras_fer.errors import UserError
rec = keras_fer.load()
crops = [np.full((48, 48), 90, "uint8"), np.arange(96 * 80 * 3, dtype="uint8").reshape(96, 80, 3)]
try:
    keras_fer.load(engine="keras")
except UserError as e:
    keras_error = str(e)
out = {"files": [keras_fer.__file__, core.__file__], "release": str(resources.release_dir()),
       "recipes": str(resources.recipes_dir()), "classes": rec.classes, "engine": rec.engine,
       "detector": rec.detector.name, "no_face": rec.detect_emotions(np.zeros((120, 160, 3), "uint8")),
       "probs": rec.predict_faces(crops).tolist(), "paths": sys.path, "keras_error": keras_error}
out["heavy"] = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps(out))
"""


def released_files(folder, leave_out=("vis", "predict", "__pycache__")):
    """Relative paths of the files the wheel must carry from ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and not set(leave_out) & set(p.relative_to(folder).parts))


def normal(lines):
    """Requirements as METADATA writes them (its own order of version clauses)."""
    from packaging.requirements import Requirement

    return [str(Requirement(line)) for line in lines]


def setup_constants():
    """setup.py's TREES and WHEEL_LEAVES_OUT (it cannot import keras_fer; read, not run)."""
    found = {}
    for node in ast.parse((REPO / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("TREES", "WHEEL_LEAVES_OUT"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found["TREES"], found["WHEEL_LEAVES_OUT"]


@pytest.fixture(scope="module")
def light_site(tmp_path_factory):
    """This venv's site-packages without HEAVY, for ``python -S``: as after `pip install
    keras_fer` (a missing package is not found, as there)."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    light = tmp_path_factory.mktemp("light")
    for entry in site.iterdir():
        name = entry.name.lower()
        if not name.startswith(HEAVY) and not name.endswith(".pth"):
            (light / entry.name).symlink_to(entry)
    return light


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
    from keras_fer import resources

    assert wheel.stat().st_size <= MAX_WHEEL_BYTES
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        int8 = {name: z.read(f"keras_fer/assets/{name}/export/model_int8.tflite")
                for name in ("fast", "best")}
    trees, leave_out = setup_constants()
    assert leave_out == resources.WHEEL_LEAVES_OUT
    assert sorted(trees.items()) == sorted((checkout, f"keras_fer/assets/{packaged}")
                                           for packaged, checkout in resources.PACKAGED)
    for folder, packaged in ((REPO / "saved_models" / "fast", "keras_fer/assets/fast"),
                             (REPO / "saved_models" / "best", "keras_fer/assets/best"),
                             (REPO / "recipes", "keras_fer/assets/recipes")):
        expected = released_files(folder, ("__pycache__", *leave_out))
        assert expected and {f"{packaged}/{f}" for f in expected} <= names
    for name, content in int8.items():
        assert content == (REPO / "saved_models" / name / "export" / "model_int8.tflite").read_bytes()
    for name in ("model.keras", "savedmodel", "model_float16.tflite"):  # each model once
        assert not [n for n in names if name in n.split("/")], name
    assert "keras_fer/assets/haarcascade_frontalface_default.xml" in names
    modules = {str(p.relative_to(REPO)) for pkg in ("keras_fer", "tuning")
               for p in (REPO / pkg).rglob("*.py")}
    assert modules and modules <= names
    assert "keras-fer = keras_fer.cli:main" in entry
    assert f"\nVersion: {keras_fer.__version__}\n" in meta
    requires = [line[len("Requires-Dist: "):] for line in meta.splitlines()
                if line.startswith("Requires-Dist: ")]
    plain = [r for r in requires if "extra ==" not in r]
    assert plain == normal(requirement_lines(REPO / "requirements-predict.txt"))
    assert not [r for r in plain if r.lower().startswith(("tensorflow", "keras", "tf-keras"))]
    train = [r.split(";")[0].strip() for r in requires if "extra == \"train\"" in r]
    assert train == normal(requirement_lines(REPO / "requirements.txt"))
    assert any(r.startswith("tensorflow>=") for r in train)
    for extra in ("train", "gpu", "onnx", "mtcnn"):
        assert f"Provides-Extra: {extra}" in meta


def test_the_toolkit_requirements_hold_the_predict_ones():
    toolkit = requirement_lines(REPO / "requirements.txt")
    predict = requirement_lines(REPO / "requirements-predict.txt")
    assert predict and toolkit[:len(predict)] == predict
    dev = requirement_lines(REPO / "requirements-dev.txt")
    assert "-r requirements.txt" in dev and "-r requirements-gpu.txt" not in dev  # make setup's


def test_installed_wheel_alone_loads_and_predicts(wheel, light_site, tmp_path):
    from keras_fer.predict.core import Predictor

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(light_site)]))
    light = [sys.executable, "-S"]  # no site-packages but light_site's
    proc = subprocess.run([*light, "-c", f"HEAVY = {HEAVY!r}\n{API}"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [Path(f) for f in out["files"]] == [site / "keras_fer" / "__init__.py",
                                               site / "keras_fer" / "predict" / "core.py"]
    assert Path(out["release"]) == site / "keras_fer" / "assets" / "fast"
    assert Path(out["recipes"]) == site / "keras_fer" / "assets" / "recipes"
    assert str(REPO) not in out["paths"]
    assert out["heavy"] == []  # no TensorFlow, Keras or JAX was imported, nor could be
    assert out["engine"] == "litert" and out["detector"] == "haar"  # no mtcnn installed
    assert out["keras_error"] == (
        "the packaged model 'fast' is installed as its int8 TFLite only (engine 'litert'): "
        "engine 'keras' needs its run directory (in a checkout, saved_models/fast) and "
        'keras_fer[train]')
    assert out["no_face"] == [] and len(out["classes"]) == 7
    probs = np.array(out["probs"])
    crops = [np.full((48, 48), 90, "uint8"),
             np.arange(96 * 80 * 3, dtype="uint8").reshape(96, 80, 3)]
    checkout = Predictor(REPO / "saved_models" / "fast")
    assert checkout.engine == "litert"
    np.testing.assert_allclose(probs, checkout.predict_faces(crops), atol=1e-6)

    face = np.kron(np.arange(36, dtype="uint8").reshape(6, 6) * 7, np.ones((8, 8), "uint8"))
    Image.fromarray(face).save(elsewhere / "face.png")
    assert (site / "bin" / "keras-fer").is_file()  # the command; run here by its module
    proc = subprocess.run([*light, "-m", "keras_fer", "predict", "face.png", "--no-detect",
                           "--json"], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [record] = json.loads(proc.stdout)["images"]
    assert record["input"] == "face.png" and record["box"] == [0, 0, 48, 48]
    ref = checkout.predict_faces([face])[0]
    assert record["label"] == out["classes"][int(np.argmax(ref))]
    assert not (elsewhere / "predict").exists()  # images write nothing without --out
