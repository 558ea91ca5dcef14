"""Evaluation: scikit-learn's numbers on a known prediction set, TTA views, evaluate_run's
report and PNGs, a labelled class-subfolder folder as one split, classes the data or the model
lacks, the command line, and a release evaluated as its card says (both test splits, its own
reports untouched)."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

import keras_fer.augment
import keras_fer.config
import keras_fer.evaluate
from keras_fer import EMOTIONS
from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.evaluate import compiled_proba, compute_metrics, evaluate_run, predict_proba, selection
from keras_fer.evaluate.cli import main
from keras_fer.io_utils import write_json


def test_compute_metrics_equals_sklearn():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 7, 300)
    y_true[y_true == 1] = 2  # "disgust" absent from y_true ...
    y_pred = np.where(rng.random(300) < 0.5, y_true, rng.integers(0, 7, 300))  # ... not y_pred
    m = compute_metrics(y_true, y_pred, EMOTIONS)
    assert m["n"] == 300
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    present = [c for c in range(7) if c != 1]  # a class without images is not in the mean
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=present, average="macro",
                                                   zero_division=0))
    assert m["weighted_f1"] == pytest.approx(f1_score(y_true, y_pred, average="weighted",
                                                      zero_division=0))
    assert m["average_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["confusion"] == confusion_matrix(y_true, y_pred, labels=range(7)).tolist()
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(7), zero_division=0)
    for i, name in enumerate(EMOTIONS):
        row = m["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[i], r[i], f[i]))
        assert row["support"] == s[i]


def _tiny_model():
    inputs = keras.Input((44, 44, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=4)(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, keras.layers.Dense(7, name="predictions")(x))


@pytest.mark.backends
@pytest.mark.parametrize("mode,count", [("none", 1), ("flip", 2), ("tencrop", 10)])
def test_predict_proba_averages_softmax_over_tta_views(mode, count, monkeypatch):
    model = _tiny_model()
    images = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    seen = []
    real = keras_fer.augment.tta_views

    def spy(batch, m, size):
        views = real(batch, m, size)
        seen.append(len(views))
        return views

    monkeypatch.setattr(keras_fer.augment, "tta_views", spy)
    probs = predict_proba(model, images, tta=mode, batch_size=3)
    assert seen == [count, count]  # two batches (3 + 2 images), count views each
    views = real(images[..., None].astype("float32"), mode, (44, 44))
    ref = np.mean([keras.ops.convert_to_numpy(keras.ops.softmax(model(v))) for v in views], axis=0)
    assert probs.shape == (5, 7)
    np.testing.assert_allclose(probs, ref, atol=1e-5)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize("mode", ["none", "tencrop"])
def test_the_compiled_path_equals_the_eager_one(mode):
    model = _tiny_model()
    images = np.random.default_rng(1).integers(0, 256, (7, 48, 48), dtype=np.uint8)
    eager = predict_proba(model, images, tta=mode, batch_size=3)
    proba = compiled_proba(model, mode)
    compiled = proba(images, batch_size=3)
    assert compiled.shape == (7, 7) and compiled.dtype == np.float64
    np.testing.assert_allclose(compiled, eager, atol=1e-6)
    assert proba(images[:0]).shape == (0, 7)
    np.testing.assert_allclose(proba(images[:4], batch_size=3), eager[:4], atol=1e-6)  # reused


def test_the_cli_offers_the_tta_modes_that_augment_implements():
    from keras_fer.evaluate.cli import build_parser, tta_modes

    [tta] = [a for a in build_parser()._actions if a.dest == "tta"]
    for mode in keras_fer.config.TTA_MODES:
        assert mode in tta.help and tta_modes(mode) == [mode]
    assert tta_modes("tencrop, none,tencrop") == ["tencrop", "none"]
    for bad in ("twentycrop", "none,twentycrop", ","):
        with pytest.raises(UserError, match="--tta: unknown mode"):
            tta_modes(bad)
    # one definition, in keras_fer.config
    assert not any(hasattr(m, "TTA_MODES") for m in (keras_fer.evaluate, keras_fer.evaluate.core))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory holding an (untrained) tiny model: what evaluate reads."""
    d = tmp_path_factory.mktemp("evalrun")
    _tiny_model().save(d / "model.keras")
    write_json(d / "meta.json", {"classes": list(EMOTIONS), "input_shape": [44, 44, 1]})
    return d


def test_evaluate_run_writes_report_and_pngs(run_dir, fer_small):
    # PrivateTest without 20 of the 40 images of its first four classes: splits of other sizes
    # and figures, so that one split evaluated on the other's images cannot pass
    private = np.nonzero(fer_small.splits == "PrivateTest")[0]
    drop = [i for c in range(4) for i in private[fer_small.labels[private] == c][20:]]
    fer_small = fer_small.select(np.setdiff1d(np.arange(len(fer_small)), drop))
    report = evaluate_run(run_dir, data=fer_small, splits=("PublicTest", "PrivateTest"),
                          tta="flip", verbose=False)
    saved = json.loads((run_dir / "eval" / "report_flip.json").read_text())
    assert set(saved["splits"]) == {"PublicTest", "PrivateTest"} and saved["tta"] == "flip"
    plain = evaluate_run(run_dir, data=fer_small, splits=("PublicTest",), verbose=False)
    assert json.loads((run_dir / "eval" / "report.json").read_text()) == plain  # beside, not over
    assert json.loads((run_dir / "eval" / "report_flip.json").read_text())["tta"] == "flip"
    model = keras.saving.load_model(run_dir / "model.keras")
    for split in ("PublicTest", "PrivateTest"):
        x, y = fer_small.split(split)
        pred = predict_proba(model, x, tta="flip").argmax(1)
        assert saved["splits"][split]["accuracy"] == pytest.approx(accuracy_score(y, pred))
        assert saved["splits"][split]["n"] == {"PublicTest": 280, "PrivateTest": 200}[split]
        confusion = np.bincount(y * 7 + pred, minlength=49).reshape(7, 7)
        assert saved["splits"][split]["confusion"] == confusion.tolist()
        assert report["splits"][split]["macro_f1"] == saved["splits"][split]["macro_f1"]
        png = run_dir / "eval" / f"confusion_{split}_flip.png"
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_on_a_labelled_folder_is_one_split(run_dir, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "my_faces"
    rng = np.random.default_rng(1)
    for cls, n in (("happy", 3), ("sad", 2)):
        (folder / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(
                folder / cls / f"{i}.png")
    assert main([str(run_dir), "--data", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["splits"]) == ["my_faces"]
    assert out["selection"] is None  # no config.json: not guessed
    m = out["splits"]["my_faces"]
    assert m["n"] == 5 and m["per_class"]["happy"]["support"] == 3
    assert m["per_class"]["sad"]["support"] == 2 and m["per_class"]["angry"]["support"] == 0


def test_cli_user_mistakes_exit_2(run_dir, tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main([str(run_dir), "--tta", "twentycrop"]) == 2
    proc = subprocess.run([sys.executable, "-m", "keras_fer.evaluate", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "model.keras is missing" in proc.stderr


def test_several_tta_modes_write_each_report_in_one_run(run_dir, tmp_path, capsys):
    data = _synthetic_fer(tmp_path / "fer2013.npz")
    out = tmp_path / "eval"
    assert main([str(run_dir), "--data", str(data), "--split", "PublicTest", "--tta", "none,flip",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'report.json'}" in printed and f"wrote {out / 'report_flip.json'}" in printed
    plain, flip = (json.loads((out / n).read_text()) for n in ("report.json", "report_flip.json"))
    assert (plain["tta"], flip["tta"]) == ("none", "flip")
    assert plain["splits"]["PublicTest"]["n"] == flip["splits"]["PublicTest"]["n"] == 5
    assert main([str(run_dir), "--data", str(data), "--tta", "none,flip", "--json"]) == 2
    assert "--json prints one report" in capsys.readouterr().err


def _synthetic_fer(path, per_split=(6, 5, 4)):
    """A FER2013-form npz: per_split images of Training, PublicTest, PrivateTest."""
    from keras_fer.data import FERData, save_npz

    n = sum(per_split)
    rng = np.random.default_rng(2)
    splits = np.repeat(["Training", "PublicTest", "PrivateTest"], per_split)
    save_npz(FERData(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
                     rng.integers(0, 7, n), splits), path)
    return path


def snapshot(folder) -> dict:
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture()
def release(run_dir, tmp_path, monkeypatch):
    """A release of the tiny model (run directory + config + card + its own report), with the
    current directory at tmp_path (where runs/ goes)."""
    monkeypatch.chdir(tmp_path)
    rel = shutil.copytree(run_dir, tmp_path / "saved_models" / "best")
    shutil.rmtree(rel / "eval", ignore_errors=True)
    data = _synthetic_fer(tmp_path / "fer2013.npz")
    write_json(rel / "config.json", TrainConfig(data=str(data), val="PublicTest").to_dict())
    write_json(rel / "meta.json", {"classes": list(EMOTIONS), "input_shape": [44, 44, 1],
                                   "best_epoch": 3})
    (rel / "README.md").write_text("# Model card: `tiny` on FER2013\n")
    write_json(rel / "eval" / "report.json", {"splits": {"PublicTest": {"n": 3589}}})
    return rel


def test_the_cards_command_reports_both_test_splits_and_leaves_the_release_alone(release, capsys):
    before = snapshot(release)
    assert main([str(Path("saved_models") / "best")]) == 0  # nothing after the run directory
    out = capsys.readouterr().out
    assert ("checkpoint chosen on PublicTest (best val_accuracy, epoch 3): its figures are "
            "optimistic; PrivateTest is held out") in out
    assert f"wrote {Path('runs/eval/best/report.json')}" in out
    report = json.loads(Path("runs/eval/best/report.json").read_text())
    assert list(report["splits"]) == ["PublicTest", "PrivateTest"]
    assert [report["splits"][s]["n"] for s in ("PublicTest", "PrivateTest")] == [5, 4]
    assert report["selection"] == {"split": "PublicTest", "monitor": "val_accuracy", "epoch": 3}
    assert Path("runs/eval/best/confusion_PrivateTest.png").is_file()
    assert snapshot(release) == before


def test_writing_into_a_release_needs_force(release, capsys):
    before = snapshot(release)
    target = release / "eval"
    assert main([str(release), "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {target}: inside the release {release.resolve()}, which is "
                   "read-only: write elsewhere with --out, or pass --force to change the release"]
    with pytest.raises(UserError, match="inside the release"):
        evaluate_run(release, out=target, verbose=False)
    assert snapshot(release) == before
    assert main([str(release), "--split", "PrivateTest", "--force"]) == 0  # the user says so
    report = json.loads((release / "eval" / "report.json").read_text())
    assert list(report["splits"]) == ["PrivateTest"] and report["splits"]["PrivateTest"]["n"] == 4


def test_selection_of_a_run_validated_on_part_of_training(tmp_path):
    write_json(tmp_path / "config.json", TrainConfig(val="split", val_fraction=0.1,
                                                     monitor="val_macro_f1").to_dict())
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as z:  # only its presence matters
        z.writestr("config.json", "{}")
    write_json(tmp_path / "meta.json", {"best_epoch": 12})
    assert selection(tmp_path) == {"split": "a held-out 10% of Training",
                                   "monitor": "val_macro_f1", "epoch": 12}


def test_macro_f1_and_average_accuracy_skip_classes_without_images():
    y_true = np.array([0, 0, 3, 3, 3, 4])  # no neutral images ...
    y_pred = np.array([0, 6, 3, 3, 6, 4])  # ... but neutral is predicted twice
    m = compute_metrics(y_true, y_pred, EMOTIONS)
    assert m["per_class"]["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)  # angry, happy, sad only
    assert m["average_accuracy"] == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)
    assert "no images of disgust, fear, surprise, neutral: not in macro-F1" in \
        keras_fer.evaluate.format_report("x", m)


def _faces(folder, counts):
    rng = np.random.default_rng(2)
    for cls, n in counts.items():
        (folder / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(
                folder / cls / f"{i}.png")
    return folder


def test_contempt_on_a_7_class_model_offers_drop_classes(run_dir, tmp_path, capsys):
    folder = _faces(tmp_path / "ck", {"happy": 2, "contempt": 3, "disgust": 1})
    report = run_dir / "eval" / "report.json"
    before = report.read_bytes() if report.is_file() else None
    assert main([str(run_dir), "--data", str(folder)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("loaded")]
    assert err == [f"error: ck: the model has no class 'contempt' (3 image(s)) (its classes: "
                   f"{', '.join(EMOTIONS)}): --drop-classes contempt leaves out those 3 image(s)"]
    assert (report.read_bytes() if report.is_file() else None) == before
    assert main([str(run_dir), "--data", str(folder), "--drop-classes", "contempt", "--json"]) == 0
    out, err = capsys.readouterr()
    m = json.loads(out)
    assert m["dropped"] == {"contempt": 3} and m["splits"]["ck"]["n"] == 3
    assert m["splits"]["ck"]["per_class"]["disgust"]["support"] == 1  # disgust kept as itself
    assert "--drop-classes: left out 3 contempt image(s)" in err


def test_numbered_folder_needs_a_coding(run_dir, tmp_path, capsys):
    folder = _faces(tmp_path / "raf", {"1": 2, "7": 1})
    assert main([str(run_dir), "--data", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'1', '7'" in err and "raf-db" in err
    assert main([str(run_dir), "--data", str(folder), "--classes", "raf-db", "--json"]) == 0
    per_class = json.loads(capsys.readouterr().out)["splits"]["raf"]["per_class"]
    assert {c: r["support"] for c, r in per_class.items() if r["support"]} == {"surprise": 2,
                                                                               "neutral": 1}
