"""Export: SavedModel signature, input contract and parity, TFLite int8 agreement, labels, the
CLI."""
import json
import re

import numpy as np
import pytest
from PIL import Image


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _fake():
    from importlib import import_module

    return import_module("keras_fer_tests_fake_run")  # loaded by conftest.py


CLASSES = _fake().CLASSES
synthetic_faces = _fake().synthetic_faces


def crop44(faces):  # the model's own input: centre 44x44 of the 48x48 faces, as float32 NHWC
    return faces[:, 2:46, 2:46, None].astype("float32")


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    from keras_fer.export import export_run

    out = tmp_path_factory.mktemp("export")
    report = export_run(run_dir, out=out, formats=["savedmodel", "keras", "tflite"],
                        representative=synthetic_faces(96, seed=1)[0],
                        parity_images=synthetic_faces(200, seed=2)[0], source="synthetic",
                        log=lambda line: None)
    return out, report


@pytest.fixture(scope="module")
def served(exported):
    from keras_fer.export import load_serving

    return load_serving(exported[0] / "savedmodel")


@pytest.fixture(scope="module")
def model(run_dir):
    from keras_fer import rundir

    return rundir.load_model(run_dir)


@pytest.mark.backends
def test_gray_is_pil_L_and_resize_close_to_pil():
    from keras import ops

    from keras_fer.predict.preprocess import to_face48, to_gray

    rgb = np.random.default_rng(0).integers(0, 256, (2, 64, 80, 3), dtype=np.uint8)
    pil = np.stack([np.array(Image.fromarray(im).convert("L")) for im in rgb])
    assert np.array_equal(ops.convert_to_numpy(to_gray(rgb))[..., 0], pil)
    rgba = np.concatenate([rgb, np.zeros_like(rgb[..., :1])], axis=-1)
    assert np.array_equal(ops.convert_to_numpy(to_gray(rgba))[..., 0], pil)
    assert np.array_equal(ops.convert_to_numpy(to_gray(pil[..., None]))[..., 0], pil)
    face = ops.convert_to_numpy(to_face48(rgb))[..., 0]
    pil48 = np.stack([np.array(Image.fromarray(g).resize((48, 48), Image.BILINEAR)) for g in pil])
    assert face.shape == (2, 48, 48) and np.abs(face - pil48).max() <= 1


def test_savedmodel_parity_on_48x48x1(exported, served, model):
    from keras_fer.export.savedmodel import served_precision

    out, report = exported
    assert report["savedmodel"]["ok"] and report["savedmodel"]["max_abs_diff"] <= 1e-5
    assert report["savedmodel"]["precision"] == served_precision(served) == "float32"
    faces, _ = synthetic_faces(16, seed=3)
    result = served.serve(faces[..., None])
    ref = softmax(np.asarray(model(crop44(faces))))
    np.testing.assert_allclose(result["probabilities"].numpy(), ref, atol=1e-5)
    sig = served.signatures["serving_default"](images=faces[..., None])
    np.testing.assert_allclose(sig["probabilities"].numpy(), ref, atol=1e-5)


def test_signature_rgb_any_size_and_class_name(served, model):
    from keras import ops

    from keras_fer.predict.preprocess import to_face48

    rgb = np.random.default_rng(4).integers(0, 256, (3, 64, 80, 3), dtype=np.uint8)
    result = served.serve(rgb)
    probs = result["probabilities"].numpy()
    assert probs.shape == (3, len(CLASSES)) and result["class_index"].shape == (3,)
    faces = ops.convert_to_numpy(to_face48(rgb))[..., 0]
    np.testing.assert_allclose(probs, softmax(np.asarray(model(crop44(faces)))), atol=1e-5)
    index = result["class_index"].numpy()
    assert np.array_equal(index, probs.argmax(axis=1))
    assert [n.decode() for n in result["class_name"].numpy()] == [CLASSES[i] for i in index]


def test_float_input_is_pixel_values_rounded_not_truncated(served):
    faces, _ = synthetic_faces(4, seed=6)
    faces = np.minimum(faces, 254)[..., None]
    want = served.serve(faces + 1)["probabilities"].numpy()
    for dtype in ("float32", "float64"):  # 0.6 above a gray level rounds up to the next one
        got = served.serve((faces + 0.6).astype(dtype))["probabilities"].numpy()
        np.testing.assert_array_equal(got, want)
    got = served.signatures["serving_default"](images=(faces + 0.6).astype("float32"))
    np.testing.assert_array_equal(got["probabilities"].numpy(), want)
    contract = served.contract()["text"].numpy().decode()
    assert "pixel values in [0, 255]" in contract and "[0, 1]-scaled images" in contract


RANGE = "float values are pixel values and must be in [0, 255] (not NaN)"


def test_every_integer_and_float_dtype_of_the_contract_gives_the_uint8_answer(served):
    faces = synthetic_faces(4, seed=7)[0][..., None]
    want = served.serve(faces)["probabilities"].numpy()
    for dtype in ("uint16", "int32", "int64", "float16"):  # were "no matching concrete function"
        np.testing.assert_array_equal(served.serve(faces.astype(dtype))["probabilities"].numpy(),
                                      want, err_msg=dtype)
    black = np.zeros((1, 48, 48, 1), "float32")  # black in either scale: not a [0, 1] image
    np.testing.assert_array_equal(served.serve(black)["probabilities"].numpy(),
                                  served.serve(black.astype("uint8"))["probabilities"].numpy())
    contract = served.contract()["text"].numpy().decode()
    assert "uint8, uint16, int32, int64, float16, float32 or float64" in contract


@pytest.mark.parametrize("images, message", [
    (np.zeros((48, 48), "uint8"), "must have rank 4, [N, H, W, C]"),  # one gray image
    (np.zeros((48, 48, 3), "float32"), "must have rank 4, [N, H, W, C]"),  # one RGB image
    (np.zeros((2, 1, 48, 48, 1), "int64"),
     "must have rank 4, [N, H, W, C] (one image: a batch of 1; gray: C = 1); dtypes uint8, uint16, "
     "int32, int64, float16, float32, float64]"),
    (np.full((2, 8, 8, 1), 256, "uint16"), "integer values are 8-bit gray levels and must be in"),
    (np.full((2, 8, 8, 3), -1, "int32"), "integer values are 8-bit gray levels"),
    (np.full((1, 8, 8, 1), 0.5, "float32"), "float values all in (0, 1]: a [0, 1]-scaled image"),
    (np.full((1, 8, 8, 3), 1.0, "float16"), "float values all in (0, 1]: a [0, 1]-scaled image, "
     "which would be read as near-black; multiply it by 255"),
    (np.full((2, 8, 8, 1), 256.0, "float32"), RANGE),
    (np.full((2, 8, 8, 3), -1.0, "float64"), RANGE),
    (np.full((1, 8, 8, 1), np.nan, "float32"), RANGE),
    (np.zeros((2, 8, 8, 5), "uint8"), "C (the last axis) must be 1 (gray) or 3 (RGB)"),
    (np.zeros((2, 8, 8, 4), "uint8"), "C (the last axis) must be 1 (gray) or 3 (RGB)"),
    (np.zeros((2, 0, 8, 1), "uint8"), "height and width must be at least 1 pixel"),
])
def test_input_outside_the_contract_is_an_error_naming_it(served, images, message):
    import tensorflow as tf

    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(f"[images: {message}")):
        served.serve(images)


@pytest.mark.parametrize("shape", [(0, 48, 48, 1), (0, 0, 0, 3)])
def test_empty_batch_gives_empty_outputs(served, shape):
    for dtype in ("uint8", "float32"):
        out = served.serve(np.zeros(shape, dtype))
        assert out["probabilities"].shape == (0, len(CLASSES))
        assert out["class_index"].shape == (0,) and out["class_name"].shape == (0,)


def test_tflite_int8_top1_agreement(exported, model):
    from keras_fer.export import tflite_predict

    out, report = exported
    faces, _ = synthetic_faces(200, seed=2)
    ref = softmax(np.asarray(model(crop44(faces)))).argmax(axis=1)
    assert len(np.unique(ref)) == len(CLASSES)  # a test of agreement, not of one constant class
    int8 = tflite_predict(out / "model_int8.tflite", crop44(faces)).argmax(axis=1)
    agreement = float(np.mean(int8 == ref))
    assert agreement >= 0.99
    assert report["tflite_int8"]["top1_agreement"] == pytest.approx(agreement)
    probs = np.sort(softmax(np.asarray(model(crop44(faces)))), axis=1)
    clear = probs[:, -1] - probs[:, -2] >= 0.05
    assert report["tflite_int8"]["clear_images"] == int(clear.sum())
    assert report["tflite_int8"]["clear_agreement"] == pytest.approx(np.mean((int8 == ref)[clear]))
    assert report["tflite_int8"]["ok"] is True
    f16 = tflite_predict(out / "model_float16.tflite", crop44(faces))
    assert np.abs(f16 - softmax(np.asarray(model(crop44(faces))))).max() < 1e-3
    assert report["tflite_float16"]["top1_agreement"] == pytest.approx(
        float(np.mean(f16.argmax(axis=1) == ref)))
    assert "clear_agreement" not in report["tflite_float16"]  # the int8 verdict is int8's alone
    saved = json.loads((out / "parity.json").read_text())
    assert saved["ok"] is True and saved["images"] == 200 and saved["source"] == "synthetic"


def test_other_files(exported, run_dir):
    out, report = exported
    assert (out / "labels.txt").read_text().split() == CLASSES
    assert (out / "model.keras").read_bytes() == (run_dir / "model.keras").read_bytes()
    assert sorted(report["files"]) == ["keras", "labels", "savedmodel", "tflite_float16",
                                       "tflite_int8"]


def _class_folder(root, n=14):
    faces, labels = synthetic_faces(n, seed=5)
    for i, (face, label) in enumerate(zip(faces, labels)):
        (root / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(face).save(root / CLASSES[label] / f"img{i}.png")
    return root


def test_parity_images_come_from_data_else_FER2013_SRC_else_an_error_naming_data(tmp_path,
                                                                                 monkeypatch):
    from keras_fer.errors import UserError
    from keras_fer.export.core import load_images

    monkeypatch.chdir(tmp_path)  # no data/ here
    monkeypatch.delenv("FER2013_DATA", raising=False)
    monkeypatch.delenv("FER2013_SRC", raising=False)
    monkeypatch.setenv("KERAS_FER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match=r"^no FER2013 source given: pass --data PATH .*FER2013_SRC$"):
        load_images(None)
    folder = _class_folder(tmp_path / "faces")
    monkeypatch.setenv("FER2013_SRC", str(folder))
    train, test, source = load_images(None)
    assert len(train) == len(test) == 14 and source == f"{folder}:all"


def test_cli_savedmodel_keras(run_dir, tmp_path, capsys, monkeypatch):
    from keras_fer.export.cli import main

    monkeypatch.setenv("KERAS_FER_CACHE", str(tmp_path / "cache"))
    data = _class_folder(tmp_path / "faces")
    code = main([str(run_dir), "--format", "savedmodel,keras", "--data", str(data),
                 "--out", str(tmp_path / "x")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "x" / "parity.json").read_text())
    assert report["images"] == 14 and report["savedmodel"]["max_abs_diff"] <= 1e-5
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "labels.txt", "model.keras", "parity.json", "savedmodel"]
    assert "parity (14 images)" in capsys.readouterr().out


def test_cli_bfloat16_savedmodel_says_so_and_tflite_stays_float32(run_dir, tmp_path, capsys,
                                                                    monkeypatch):
    from keras_fer.export import load_serving
    from keras_fer.export.cli import main
    from keras_fer.export.savedmodel import served_precision

    monkeypatch.setenv("KERAS_FER_CACHE", str(tmp_path / "cache"))
    data = _class_folder(tmp_path / "faces")
    code = main([str(run_dir), "--format", "savedmodel,tflite", "--precision", "bfloat16",
                 "--data", str(data), "--out", str(tmp_path / "x")])
    assert code == 0, capsys.readouterr().err
    assert served_precision(load_serving(tmp_path / "x" / "savedmodel")) == "bfloat16"
    report = json.loads((tmp_path / "x" / "parity.json").read_text())
    sm = report["savedmodel"]
    assert sm["precision"] == "bfloat16" and sm["ok"] and "tolerance" not in sm
    assert 0 < sm["max_abs_diff"] < 0.05 and sm["top1_agreement"] >= 0.95
    assert report["tflite_float16"]["top1_agreement"] == 1.0  # converted from float32
    assert "savedmodel (bfloat16) max |dp|" in capsys.readouterr().out


def test_savedmodel_parity_float32_by_tolerance_bfloat16_by_the_int8_rule():
    from keras_fer.export.core import _savedmodel_parity

    ref = np.tile([[0.7, 0.2, 0.1]], (100, 1))
    near = ref + 0.01  # every probability moved by 0.01, no decision changed
    assert not _savedmodel_parity(ref, near, "float32")["ok"]
    # the float32 gate itself is 1e-5: a gate loosened to 5e-3 would let 2e-5 through
    assert _savedmodel_parity(ref, ref + 8e-6, "float32")["ok"]
    entry = _savedmodel_parity(ref, ref + 2e-5, "float32")
    assert not entry["ok"] and entry["tolerance"] == 1e-5
    assert entry["failures"] == ["SavedModel probabilities differ by 2.00e-05 > 1e-05"]
    assert _savedmodel_parity(ref, near, "bfloat16")["ok"]
    flipped = near.copy()
    flipped[:2] = [0.1, 0.7, 0.2]  # two clear decisions changed: 98% < 99%
    entry = _savedmodel_parity(ref, flipped, "bfloat16")
    assert not entry["ok"] and entry["disagreements"] == 2
    assert entry["failures"][0].startswith("bfloat16 SavedModel top-1 agreement 98.00%")


def test_cli_parity_failure_exits_1(run_dir, tmp_path, capsys, monkeypatch):
    from keras_fer.export import core
    from keras_fer.export.cli import main

    monkeypatch.setenv("KERAS_FER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(core, "SAVEDMODEL_TOLERANCE", -1.0)  # nothing can pass
    data = _class_folder(tmp_path / "faces", n=7)
    code = main([str(run_dir), "--format", "savedmodel", "--data", str(data),
                 "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("error: parity check failed")
    assert json.loads((tmp_path / "x" / "parity.json").read_text())["ok"] is False


@pytest.mark.parametrize("args, needle", [
    (["--format", "savedmodel,zip"], "unknown format 'zip'"),
    (["--per-class", "0"], "--per-class"),
    (["--precision", "int4"], "--precision"),
])
def test_cli_user_errors(run_dir, capsys, args, needle):
    from keras_fer.export.cli import main

    assert main([str(run_dir), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_cli_missing_run_dir(tmp_path, capsys):
    from keras_fer.export.cli import main

    assert main([str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_disagreements_count_and_the_reference_top_two_gap():
    from keras_fer.export.core import disagreements

    ref = np.array([[0.5, 0.4, 0.1], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33], [0.2, 0.7, 0.1]])
    probs = np.array([[0.4, 0.5, 0.1], [0.8, 0.1, 0.1], [0.33, 0.34, 0.33], [0.2, 0.7, 0.1]])
    out = disagreements(ref, probs)
    assert out["disagreements"] == 2  # rows 0 and 2 (gaps 0.1 and 0.01)
    assert out["disagreement_gap_median"] == pytest.approx(0.055)
    assert out["disagreement_gap_max"] == pytest.approx(0.1)
    assert disagreements(ref, ref) == {"disagreements": 0, "disagreement_gap_median": None,
                                       "disagreement_gap_max": None}


def _ranked(n, gap, seed):
    """(n, 3) probabilities whose top two are ``gap`` apart, top class varying by row."""
    rng = np.random.default_rng(seed)
    p = np.zeros((n, 3))
    top = rng.integers(0, 3, n)
    p[np.arange(n), top] = 0.5 + gap / 2
    p[np.arange(n), (top + 1) % 3] = 0.5 - gap / 2
    return p


def test_int8_verdict_forgives_flipped_near_ties_not_clear_decisions():
    from keras_fer.export import MIN_INT8_AGREEMENT, MIN_INT8_AGREEMENT_ALL, NEAR_TIE, int8_verdict

    assert (NEAR_TIE, MIN_INT8_AGREEMENT, MIN_INT8_AGREEMENT_ALL) == (0.05, 0.99, 0.95)
    clear, ties = _ranked(300, 0.4, seed=0), _ranked(10, 0.01, seed=1)
    ref = np.concatenate([clear, ties])

    def swap(p):
        return p[:, [1, 2, 0]]  # every row's top class changes

    # the 10 near-ties flipped: 96.77% overall, 100% on the 300 clear images -> passes
    v = int8_verdict(ref, np.concatenate([clear, swap(ties)]))
    assert v["ok"] and v["clear_images"] == 300 and v["clear_agreement"] == 1.0
    assert v["top1_agreement"] == pytest.approx(300 / 310)
    # 4 clear decisions flipped: 98.67% of the clear images -> fails (98.71% overall)
    flipped = np.concatenate([swap(clear[:4]), clear[4:], ties])
    v = int8_verdict(ref, flipped)
    assert not v["ok"] and v["clear_agreement"] == pytest.approx(296 / 300)
    # 3 clear flips: 99.0% of clear -> passes (the bound is inclusive)
    assert int8_verdict(ref, np.concatenate([swap(clear[:3]), clear[3:], ties]))["ok"]
    # a model of near-ties only must still agree on 95% of all images
    many_ties = _ranked(100, 0.01, seed=2)
    assert int8_verdict(many_ties, np.concatenate([swap(many_ties[:5]), many_ties[5:]]))["ok"]
    v = int8_verdict(many_ties, np.concatenate([swap(many_ties[:6]), many_ties[6:]]))
    assert not v["ok"] and v["clear_images"] == 0 and v["top1_agreement"] == pytest.approx(0.94)

