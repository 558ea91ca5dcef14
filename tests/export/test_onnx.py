"""ONNX (keras_fer[onnx], which requirements-dev.txt installs): tf2onnx's model.onnx gives the
.keras model's probabilities in onnxruntime, and the parity check catches one that does not."""
from importlib import import_module

import numpy as np
import pytest

from keras_fer.export.tflite import onnx_available

pytestmark = pytest.mark.skipif(not onnx_available(), reason="keras_fer[onnx] not installed "
                                "(pip install -r requirements-onnx.txt)")
synthetic_faces = import_module("keras_fer_tests_fake_run").synthetic_faces  # conftest.py


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    from keras_fer.export import export_run

    out = tmp_path_factory.mktemp("onnx")
    faces = synthetic_faces(64, seed=3)[0]
    report = export_run(run_dir, out=out, formats=["onnx"], parity_images=faces,
                        source="synthetic", log=lambda line: None)
    return out, report, faces


def test_onnx_in_onnxruntime_matches_the_keras_model(exported, run_dir):
    from keras_fer import rundir
    from keras_fer.export import ONNX_TOLERANCE, onnx_predict

    model = rundir.load_model(run_dir)
    out, report, faces = exported
    assert sorted(p.name for p in out.iterdir()) == ["labels.txt", "model.onnx", "parity.json"]
    assert sorted(report["files"]) == ["labels", "onnx"]
    z = np.asarray(model(faces[:, 2:46, 2:46, None].astype("float32")), "float64")
    ref = np.exp(z - z.max(axis=1, keepdims=True))
    ref /= ref.sum(axis=1, keepdims=True)
    probs = onnx_predict(out / "model.onnx", faces[:, 2:46, 2:46, None])
    assert probs.shape == (64, ref.shape[1])
    np.testing.assert_allclose(probs, ref, atol=ONNX_TOLERANCE)
    assert report["ok"] and report["onnx"]["ok"]
    assert report["onnx"]["max_abs_diff"] <= ONNX_TOLERANCE
    assert report["onnx"]["top1_agreement"] == 1.0


def test_parity_fails_for_an_onnx_file_of_another_model(exported, run_dir):
    from keras_fer import rundir
    from keras_fer.export import check_parity

    out, _, faces = exported
    other = rundir.load_model(run_dir)
    dense = other.get_layer("predictions")
    dense.set_weights([w * 3.0 for w in dense.get_weights()])
    report = check_parity(other, out, faces)
    assert report["ok"] is False and report["onnx"]["ok"] is False
    assert report["failures"] == [f"ONNX (onnxruntime) probabilities differ by "
                                  f"{report['onnx']['max_abs_diff']:.2e} > 1e-05"]
