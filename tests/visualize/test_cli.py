"""python -m keras_fer.visualize on a fake run directory (a tiny model saved by the test)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":
    pytest.skip("visualize runs on TensorFlow", allow_module_level=True)

from keras_fer import EMOTIONS, rundir  # noqa: E402
from keras_fer.visualize.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PER_SPLIT = {"test": ("PublicTest", 3), "train": ("Training", 2)}


def _tiny_model(attention=False):
    inp = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    if attention:  # DACL-like: per-feature attention weights from a layer "attention_weights"
        att = keras.layers.Dense(6, activation="sigmoid", name="attention_weights")(x)
        x = keras.layers.Multiply(name="attended")([x, att])
    return keras.Model(inp, keras.layers.Dense(7, name="predictions")(x), name="tiny")


def _fake_run(path, epochs, attention=False):
    path.mkdir()
    _tiny_model(attention).save(path / rundir.MODEL_FILE)
    e = np.arange(1, epochs + 1)
    lines = ["epoch,loss,accuracy,val_loss,val_accuracy,lr"]
    lines += [f"{i},{2 / i:.4f},{0.2 + 0.05 * i:.4f},{2.2 / i:.4f},{0.18 + 0.04 * i:.4f},0.01" for i in e]
    (path / rundir.HISTORY_FILE).write_text("\n".join(lines) + "\n")
    rundir.write_meta(path, {"classes": list(EMOTIONS), "input_shape": [48, 48, 1],
                             "backend": "tensorflow", "best_epoch": epochs})
    return path


@pytest.fixture(scope="module")
def setup(fer_small, tmp_path_factory):
    """Two fake runs and a tiny image-folder release (3 PublicTest + 2 Training per class)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("vis")
    data = root / "fer"
    for folder, (split, n) in PER_SPLIT.items():
        images, labels = fer_small.split(split)
        for c, name in enumerate(EMOTIONS):
            (data / folder / name).mkdir(parents=True)
            for k, i in enumerate(np.flatnonzero(labels == c)[:n]):
                Image.fromarray(images[i]).save(data / folder / name / f"{split}_{c}{k}.png")
    return _fake_run(root / "run", 3), _fake_run(root / "run2", 4), data, root


def _pngs_of(index):
    return re.findall(r"<img src='([^']+\.png)'", index.read_text())


def test_all_figures_and_index(setup, capsys):
    from PIL import Image

    run, run2, data, root = setup
    out = root / "out_all"
    rc = main([str(run), "--data", str(data), "--per-class", "1", "--smooth-samples", "2",
               "--maps", "4", "--compare", str(run2), "--faithfulness-images", "7", "--out", str(out)])
    assert rc == 0
    expected = {"saliency.png", "gradcam.png", "activations_layers.png", "activations_emotions.png",
                "filters_conv1.png", "curves.png", "curves_compare.png", "distribution.png",
                "confusion.png", "predictions_correct.png", "predictions_wrong.png"}
    assert {p.name for p in out.glob("*.png")} == expected
    index = out / "index.html"
    assert set(_pngs_of(index)) == expected
    text = index.read_text()
    assert "attention: skipped" in text  # not a DACL model
    assert "Grad-CAM and Grad-CAM++ at layer conv2 - run" in text  # the last ReLU map (fused)
    assert "Confusion matrix - run - PublicTest (21 images)" in text
    assert "Faithfulness on 7 PublicTest faces (seed 0) - run" in text
    assert (out / "faithfulness.json").is_file()
    for name in ("saliency.png", "gradcam.png"):
        w, h = Image.open(out / name).size
        assert w > 300 and h > 300
    assert "wrote 11 figures, 1 tables" in capsys.readouterr().out


def test_images_class_and_layer(setup, tmp_path):
    from PIL import Image

    run, _, _, _ = setup
    files = []
    for i, size in enumerate([(48, 48), (100, 80)]):  # any size, any mode: made 48x48 gray
        arr = np.random.default_rng(i).integers(0, 255, size=size + (3,), dtype=np.uint8)
        files.append(tmp_path / f"face{i}.jpg")
        Image.fromarray(arr).save(files[-1])
    out = tmp_path / "vis"
    rc = main([str(run), "--images", *map(str, files), "--what", "saliency,gradcam,filters",
               "--class", "happy", "--layer", "conv1", "--smooth-samples", "1", "--out", str(out)])
    assert rc == 0
    assert {p.name for p in out.glob("*.png")} == {"saliency.png", "gradcam.png", "filters_conv1.png"}
    text = (out / "index.html").read_text()
    assert "class: happy" in text and "at layer conv1" in text and "face1.jpg" not in text


def test_attention_strips(setup, capsys):
    run, _, data, root = setup
    out = root / "out_att"
    dacl = _fake_run(root / "dacl", 2, attention=True)
    assert main([str(dacl), "--data", str(data), "--what", "attention", "--class", "sad",
                 "--per-class", "2", "--out", str(out)]) == 0
    assert {p.name for p in out.glob("*.png")} == {"attention_one_class.png", "attention_classes.png"}
    text = (out / "index.html").read_text()
    assert "DACL attention weights (attention_weights), images of class sad - dacl" in text


def test_user_errors(setup, tmp_path, capsys):
    run, _, _, _ = setup
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    cases = [([str(run), "--what", "saliency,nope"], "unknown figure 'nope'"),
             ([str(run), "--images", str(bad)], "bad.jpg: not an image"),
             ([str(run), "--images", str(bad), "--what", "attention"], "bad.jpg"),
             ([str(run), "--images", str(tmp_path / "gone.png")], "gone.png: cannot read"),
             ([str(run), "--class", "bored", "--images", str(bad)], "bored"),
             # contempt is a class of its own, not a synonym of disgust
             ([str(run), "--class", "contempt", "--images", str(bad)],
              "unknown class 'contempt' (known: angry, disgust,"),
             ([str(run), "--layer", "conv9", "--images", str(bad)], "conv9"),
             ([str(tmp_path)], "model.keras is missing")]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, (argv, err)


def test_16bit_image_scaled_like_the_data_loader(tmp_path):
    from PIL import Image

    from keras_fer.visualize.cli import read_image_files

    values = np.linspace(0, 65535, 48 * 48).round().astype(np.uint16).reshape(48, 48)
    Image.fromarray(values).save(tmp_path / "face16.png")
    faces = read_image_files([tmp_path / "face16.png"])
    np.testing.assert_array_equal(faces[0], np.round(values / 257).astype(np.uint8))


def test_attention_requested_on_plain_model_is_a_user_error(setup, capsys):
    run, _, _, _ = setup
    face = setup[3] / "fer" / "test" / "happy"
    img = sorted(face.iterdir())[0]
    assert main([str(run), "--images", str(img), "--what", "attention"]) == 2
    assert "--what attention: the model has no attention layer" in capsys.readouterr().err


def test_module_exits_2_without_traceback(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax"}  # __main__ switches to TensorFlow itself
    proc = subprocess.run([sys.executable, "-m", "keras_fer.visualize", str(tmp_path / "none")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "no such run directory" in proc.stderr


def test_a_release_is_visualized_into_runs_vis_not_into_it(setup, tmp_path, monkeypatch, capsys):
    import shutil

    from keras_fer import rundir

    run, _, data, _ = setup
    release = tmp_path / "best"
    shutil.copytree(run, release)
    (release / rundir.RELEASE_FILE).write_text("{}")
    before = sorted(p.relative_to(release) for p in release.rglob("*"))
    monkeypatch.chdir(tmp_path)
    assert main([str(release), "--data", str(data), "--what", "curves"]) == 0
    assert (tmp_path / "runs" / "vis" / "best" / "index.html").is_file()
    assert main([str(release), "--what", "curves", "--out", str(release / "v")]) == 2
    assert "inside the release" in capsys.readouterr().err
    assert sorted(p.relative_to(release) for p in release.rglob("*")) == before


def test_faithfulness_page_of_a_trained_model(setup, fer_small, tmp_path, capsys):
    """Train the tiny net 3 epochs on the small real subset, then build the page: the report
    holds every metric of every method, and the page shows them."""
    import json

    from keras_fer.data import load, stratified_subset
    from keras_fer.evaluate import predict_proba
    from keras_fer.visualize.faithfulness import METHODS

    _, _, data, _ = setup
    run = _fake_run(tmp_path / "trained", 3)
    model = keras.models.load_model(run / rundir.MODEL_FILE)
    images, labels = fer_small.split("Training")
    keras.utils.set_random_seed(0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images[..., None].astype("float32"), labels, epochs=3, batch_size=32, verbose=0)
    model.save(run / rundir.MODEL_FILE)
    out = tmp_path / "vis"
    assert main([str(run), "--data", str(data), "--what", "gradcam,faithfulness",
                 "--faithfulness-images", "14", "--smooth-samples", "2", "--out", str(out)]) == 0
    report = json.loads((out / "faithfulness.json").read_text())
    assert report["images"] == 14 and report["split"] == "PublicTest" and report["layer"] == "conv2"
    assert list(report["methods"]) == list(METHODS)
    steps = report["deletion"]["steps"]
    # the sample: 2 of the 3 PublicTest faces per class (stratified, seed 0); its mean
    # predicted-class probability is where every deletion curve starts (nothing deleted yet)
    faces, labels = load(data).split("PublicTest")
    sample = faces[stratified_subset(labels, 14, seed=0)]
    assert np.bincount(labels[stratified_subset(labels, 14, seed=0)]).tolist() == [2] * 7
    p0 = predict_proba(model, sample).max(axis=1).mean()
    for m, v in report["methods"].items():
        assert set(v) == {"non_constant", "random_model_non_constant", "rank_correlation",
                          "rank_correlation_pairs", "deletion_auc", "random_deletion_auc",
                          "deletion_curve"}, m
        assert 0 <= v["non_constant"] <= 1 and 0 <= v["rank_correlation_pairs"] <= 14
        assert v["rank_correlation"] is None or -1 <= v["rank_correlation"] <= 1
        assert 0 < v["deletion_auc"] < 1 and 0 < v["random_deletion_auc"] < 1
        assert len(v["deletion_curve"]) == steps + 1
        assert v["deletion_curve"][0] == pytest.approx(p0, abs=1e-3)
    text = (out / "index.html").read_text()
    assert text.count("<tr>") == 1 + len(METHODS) and "random-order AUC" in text
    assert "Grad-CAM++" in text and "faithfulness.json" in text
