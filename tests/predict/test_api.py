"""The Python API (keras_fer.load, Predictor.detect_emotions / predict_faces), batching, the
SavedModel as a model, the CLI without a model directory, and the keras-fer command."""
import json
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = import_module("keras_fer_tests_fake_run").CLASSES  # loaded by conftest.py
synthetic_faces = import_module("keras_fer_tests_fake_run").synthetic_faces
REPO = Path(__file__).resolve().parents[2]


def direct(model, faces48):
    """Softmax of the model called directly on uint8 48x48 faces (its 44x44 centre)."""
    z = np.asarray(model(faces48[:, 2:46, 2:46, None].astype("float32")), "float64")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def faces():
    return synthetic_faces(6, seed=7)[0]


@pytest.fixture(scope="module")
def counted(monkeypatch_module):
    """How many times each classifier ran (a batch is one call)."""
    from keras_fer.predict import classifier

    calls = []
    original = classifier.KerasClassifier.__call__

    def call(self, faces):
        calls.append(len(faces))
        return original(self, faces)

    monkeypatch_module.setattr(classifier.KerasClassifier, "__call__", call)
    return calls


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_detect_emotions_path_array_pil_bgr_agree(run_dir, model, faces, tmp_path):
    import keras_fer

    rec = keras_fer.load(run_dir, detector=None)
    face = faces[0]
    Image.fromarray(face).save(tmp_path / "face.png")
    rgb = np.repeat(face[..., None], 3, axis=-1)
    results = [rec.detect_emotions(x) for x in (tmp_path / "face.png", str(tmp_path / "face.png"),
                                                face, face[..., None], rgb,
                                                Image.fromarray(face))]
    results.append(rec.detect_emotions(rgb[..., ::-1], bgr=True))
    assert all(r == results[0] for r in results)
    [one] = results[0]
    assert one["box"] == (0, 0, 48, 48) and list(one["emotions"]) == CLASSES
    ref = direct(model, face[None])[0]
    np.testing.assert_allclose([one["emotions"][c] for c in CLASSES], ref, atol=1e-5)
    assert one["label"] == CLASSES[int(ref.argmax())]


def test_bgr_flag_reads_a_colour_frame_whose_channel_order_changes_the_answer(run_dir, model,
                                                                             faces):
    # a grey face in three channels reads the same either way: this one has red = the face and
    # blue = its negative, so swapping the channels swaps its contrast (and its answer)
    import keras_fer

    rec = keras_fer.load(run_dir, detector=None)
    rgb = np.stack([faces[0], np.zeros_like(faces[0]), 255 - faces[0]], axis=-1)
    bgr = np.ascontiguousarray(rgb[..., ::-1])  # as OpenCV hands it over
    [want] = rec.detect_emotions(rgb)
    [misread] = rec.detect_emotions(bgr)  # the flag forgotten: read as RGB
    assert misread["label"] != want["label"]
    assert rec.detect_emotions(bgr, bgr=True) == [want]
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    ref = direct(model, gray[None])[0]
    np.testing.assert_allclose([want["emotions"][c] for c in CLASSES], ref, atol=1e-5)


def test_detect_emotions_rejects_what_it_cannot_read(run_dir):
    import keras_fer
    from keras_fer.errors import UserError

    rec = keras_fer.load(run_dir, detector=None)
    with pytest.raises(UserError, match="uint8 pixel values, got dtype float32"):
        rec.detect_emotions(np.zeros((48, 48, 3), "float32"))
    with pytest.raises(UserError, match=r"got \(48, 48, 5\)"):
        rec.detect_emotions(np.zeros((48, 48, 5), "uint8"))
    assert keras_fer.load(run_dir).detect_emotions(np.full((120, 160, 3), 128, "uint8")) == []


def test_predict_faces_any_sizes_in_one_batch(run_dir, model, faces, counted):
    import keras_fer
    from keras_fer.predict.preprocess import faces_uint8

    rec = keras_fer.load(run_dir)
    big = [np.kron(f, np.ones((2, 2), "uint8")) for f in faces[:3]]  # 96x96
    colour = np.repeat(faces[3:5, :40, :44, None], 3, axis=-1)        # 40x44 RGB
    crops = [faces[0], big[0], colour[0], faces[5], big[1], colour[1], big[2]]
    counted.clear()
    probs = rec.predict_faces(crops)
    assert counted == [7]  # one model call for all seven
    ref = direct(model, np.concatenate([faces_uint8([c]) for c in crops]))
    np.testing.assert_allclose(probs, ref, atol=1e-5)
    np.testing.assert_allclose(rec.predict_faces(faces), direct(model, faces), atol=1e-5)
    assert rec.predict_faces([]).shape == (0, len(CLASSES))


def test_cli_classifies_a_folder_in_batches(run_dir, model, faces, tmp_path, counted, capsys):
    from keras_fer.predict.cli import main

    folder = tmp_path / "many"
    folder.mkdir()
    for i, face in enumerate(faces):
        Image.fromarray(face).save(folder / f"{i}.png")
    (folder / "3.png").write_bytes(b"broken")
    counted.clear()
    assert main([str(run_dir), str(folder), "--no-detect", "--json"]) == 2
    assert counted == [5]
    result = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in result["images"]] == [str(folder / f"{i}.png") for i in (0, 1, 2, 4, 5)]
    assert len(result["errors"]) == 1 and result["errors"][0].startswith(f"{folder / '3.png'}: ")
    probs = [[r["probabilities"][c] for c in CLASSES] for r in result["images"]]
    np.testing.assert_allclose(probs, direct(model, faces[[0, 1, 2, 4, 5]]), atol=1e-5)


def test_savedmodel_folders_give_the_run_directorys_answers(run_dir, faces, tmp_path):
    import keras_fer
    from keras_fer.errors import UserError
    from keras_fer.export import export_run

    export_run(run_dir, out=tmp_path / "export", formats=["savedmodel"])
    keras = keras_fer.load(run_dir).predict_faces(faces)
    for folder in (tmp_path / "export", tmp_path / "export" / "savedmodel"):
        rec = keras_fer.load(folder)
        assert rec.classes == CLASSES and rec.model is None
        np.testing.assert_allclose(rec.predict_faces(faces), keras, atol=1e-5)
    (tmp_path / "export" / "labels.txt").unlink()
    with pytest.raises(UserError, match="no labels.txt beside the model"):
        keras_fer.load(tmp_path / "export" / "savedmodel")
    with pytest.raises(UserError, match="neither a run directory"):
        keras_fer.load(tmp_path)


def test_load_without_a_path_is_the_packaged_release():
    import keras_fer
    from keras_fer import resources, rundir

    rec = keras_fer.load()
    assert rec.engine == "litert"  # the fastest faithful engine: the int8 TFLite
    assert rec.classifier.source == resources.release_dir() / "export" / "model_int8.tflite"
    assert keras_fer.load(resources.DEFAULT_MODEL).classifier.source == rec.classifier.source
    assert rec.classes == rundir.class_names(resources.release_dir())
    probs = rec.predict_faces(np.zeros((2, 48, 48), "uint8"))
    assert probs.shape == (2, len(rec.classes))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_load_and_predict_faces_start_no_tensorflow_where_it_is_installed():
    """An app that classifies face crops with the toolkit installed (TensorFlow, and mtcnn, whose
    detector "auto" picks) gets LiteRT alone: MTCNN, which starts TensorFlow (5 s), is made by
    the first detection (``load()`` took 5.3 s before, 0.1 s after, on a Zen 2)."""
    import subprocess
    import sys

    pytest.importorskip("mtcnn", reason="keras_fer[mtcnn] not installed")
    code = ("import sys, numpy as np, keras_fer\n"
            "rec = keras_fer.load()\n"
            "print(rec.detector.name, rec.predict_faces(np.zeros((2, 48, 48), 'uint8')).shape,"
            " 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[0] == "mtcnn (2, 7) False False"


def test_cli_without_model_dir_uses_the_release_and_keras_fer_runs_it(run_dir, faces, tmp_path,
                                                                       capsys):
    from keras_fer import cli, rundir
    from keras_fer.predict.cli import main
    from keras_fer.resources import release_dir

    Image.fromarray(faces[0]).save(tmp_path / "face.png")
    assert main([str(tmp_path / "face.png"), "--no-detect", "--json"]) == 0
    released = json.loads(capsys.readouterr().out)
    assert released["classes"] == rundir.class_names(release_dir())
    assert cli.main(["predict", str(tmp_path / "face.png"), "--no-detect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == released
    assert cli.main(["predict", str(run_dir), str(tmp_path / "face.png"), "--no-detect",
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == CLASSES
