"""keras_fer.load(engine=...): LiteRT (int8 TFLite), SavedModel and .keras agree under the
export's rules (int8: ``int8_verdict``'s top-1 rule; SavedModel: 1e-5), the automatic choice,
LiteRT's batching, and the NumPy preprocessing that replaces ``to_face48`` outside Keras."""
import json
from importlib import import_module

import numpy as np
import pytest

synthetic_faces = import_module("keras_fer_tests_fake_run").synthetic_faces  # conftest.py


@pytest.fixture(scope="module")
def exported(run_dir):
    """The tiny run with its own export/ (SavedModel, TFLite) and a passed parity.json."""
    from keras_fer.export import export_run

    report = export_run(run_dir, formats=["savedmodel", "tflite"],
                        representative=synthetic_faces(96, seed=1)[0],
                        parity_images=synthetic_faces(200, seed=2)[0], log=lambda line: None)
    assert report["ok"] and (run_dir / "export" / "model_int8.tflite").is_file()
    return run_dir


def test_engines_agree_under_the_export_rules(exported):
    import keras_fer
    from keras_fer.export.core import SAVEDMODEL_TOLERANCE, int8_verdict

    faces = synthetic_faces(300, seed=11)[0]
    crops = [np.kron(f, np.ones((2, 2), "uint8")) for f in faces[:20]]  # 96x96: resized
    recs = {e: keras_fer.load(exported, detector=None, engine=e)
            for e in ("keras", "savedmodel", "litert")}
    assert {e: r.engine for e, r in recs.items()} == {e: e for e in recs}
    assert all(r.classes == recs["keras"].classes for r in recs.values())
    for inputs in (faces, crops):
        probs = {e: r.predict_faces(inputs) for e, r in recs.items()}
        assert np.abs(probs["savedmodel"] - probs["keras"]).max() <= SAVEDMODEL_TOLERANCE
        verdict = int8_verdict(probs["keras"], probs["litert"])
        assert verdict["ok"], verdict
        assert np.abs(probs["litert"] - probs["keras"]).max() > 0  # it is the int8 model
        np.testing.assert_allclose(probs["litert"].sum(axis=1), 1.0, atol=1e-12)


def test_automatic_engine_is_litert_only_where_its_parity_passed(exported, tmp_path):
    import shutil

    from keras_fer.errors import UserError
    from keras_fer.predict.classifier import model_kind

    export = exported / "export"
    assert model_kind(exported) == ("litert", export / "model_int8.tflite")
    assert model_kind(export) == ("litert", export / "model_int8.tflite")
    assert model_kind(exported, "savedmodel") == ("savedmodel", export / "savedmodel")
    copy = tmp_path / "run"
    shutil.copytree(exported, copy)
    parity = json.loads((copy / "export" / "parity.json").read_text())
    parity["tflite_int8"]["ok"] = False
    (copy / "export" / "parity.json").write_text(json.dumps(parity))
    assert model_kind(copy) == ("keras", copy)  # a failed int8 check: not the default
    (copy / "export" / "parity.json").unlink()
    assert model_kind(copy) == ("keras", copy)  # an unchecked one neither
    assert model_kind(copy / "export" / "model_int8.tflite")[0] == "litert"  # asked for by name
    with pytest.raises(UserError, match=r"no model for engine 'keras' here \(it has litert, "
                                        r"savedmodel\): it needs the run directory's model.keras"):
        model_kind(copy / "export", "keras")
    with pytest.raises(UserError, match="unknown engine 'tflite'"):
        model_kind(copy, "tflite")


def test_litert_batches_give_the_answers_of_single_faces(exported):
    import keras_fer
    from keras_fer.predict import classifier

    rec = keras_fer.load(exported, detector=None, engine="litert")
    faces = synthetic_faces(classifier.BATCH_SIZE + 5, seed=12)[0]
    whole = rec.predict_faces(faces)  # one batch of 256, one of 5
    single = np.concatenate([rec.predict_faces(faces[i:i + 1]) for i in (0, 7, 260)])
    np.testing.assert_allclose(single, whole[[0, 7, 260]], atol=1e-6)
    assert rec.classifier.batch == 1


def test_litert_writes_fit_faces_centre_crop_straight_into_its_input(exported):
    from keras_fer.predict import classifier
    from keras_fer.predict.core import crops_to_faces

    clf = classifier.open_classifier(exported, engine="litert")
    faces = synthetic_faces(9, seed=5)[0]
    assert crops_to_faces(faces) is faces  # uint8 48x48 faces: nothing to convert
    (top, left), (h, w) = clf.crop, clf.size
    assert (top, left) == ((48 - h) // 2, (48 - w) // 2)
    # the reference: fit_faces' float32 crop handed to a fresh interpreter with set_tensor
    ref = classifier.litert_interpreter(clf.source, num_threads=1)
    ref.resize_tensor_input(clf.input["index"], [9, h, w, 1])
    ref.allocate_tensors()
    ref.set_tensor(clf.input["index"], classifier.fit_faces(faces, clf.size))
    ref.invoke()
    want = ref.get_tensor(clf.output["index"]).astype("float64")
    np.testing.assert_allclose(clf(faces), want / want.sum(axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(clf(faces[3:4]), clf(faces)[3:4], atol=1e-6)  # resized back


def test_litert_runs_on_the_cores_this_process_may_use_at_most_four(exported, monkeypatch):
    import ai_edge_litert.interpreter as litert

    from keras_fer.predict import classifier

    for cores, threads in ((set(range(8)), 4), ({0, 1}, 2), ({3}, 1)):
        monkeypatch.setattr(classifier.os, "sched_getaffinity", lambda pid, c=cores: c)
        assert classifier.cpu_threads() == threads
    made = []
    real = litert.Interpreter

    def interpreter(**kwargs):
        made.append(kwargs["num_threads"])
        return real(**kwargs)

    monkeypatch.setattr(litert, "Interpreter", interpreter)
    one = classifier.open_classifier(exported, engine="litert")  # the last affinity: one core
    monkeypatch.setattr(classifier.os, "sched_getaffinity", lambda pid: {0, 1})
    two = classifier.open_classifier(exported, engine="litert")
    assert made == [1, 2]
    faces = synthetic_faces(70, seed=4)[0]
    np.testing.assert_allclose(one(faces), two(faces), atol=1e-6)


def test_numpy_preprocessing_is_to_face48():
    from keras import ops

    from keras_fer.augment import fit_to
    from keras_fer.predict.classifier import fit_faces
    from keras_fer.predict.preprocess import faces_uint8, to_face48

    rng = np.random.default_rng(0)
    differ = total = 0
    for shape in [(48, 48, 3), (48, 48, 1), (96, 96, 3), (100, 80, 4), (37, 41, 1), (251, 251, 3)]:
        images = rng.integers(0, 256, (3, *shape), dtype=np.uint8)
        ref = ops.convert_to_numpy(to_face48(images))[..., 0]
        ours = faces_uint8(list(images)).astype("float32")
        if shape[:2] == (48, 48):
            np.testing.assert_array_equal(ours, ref)
        assert np.abs(ours - ref).max() <= 1  # a half gray level rounded the other way
        differ, total = differ + int((ours != ref).sum()), total + ref.size
    assert differ <= total / 1000
    faces = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    for size in (44, 48, 56):
        np.testing.assert_allclose(fit_faces(faces, (size, size)), ops.convert_to_numpy(
            fit_to(faces.astype("float32"), size)), atol=1e-3)


@pytest.mark.e2e
def test_packaged_release_engines_agree_on_publictest(fer_small):
    """On 280 real PublicTest faces (40 a class, ../shared's zip: under CI a missing one fails)."""
    import keras_fer
    from keras_fer.export.core import int8_verdict

    images, _ = fer_small.split("PublicTest")
    assert len(images) == 280
    probs = {e: keras_fer.load(detector=None, engine=e).predict_faces(images)
             for e in ("keras", "litert")}
    assert int8_verdict(probs["keras"], probs["litert"])["ok"]
