"""Predict: images and videos against the model called directly, detection, errors."""
import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

CLASSES = import_module("keras_fer_tests_fake_run").CLASSES  # loaded by conftest.py
REPO = Path(__file__).resolve().parents[2]


def direct(model, faces):
    """Softmax of the model called directly on uint8 48x48 faces (centre 44x44 crop)."""
    z = np.asarray(model(faces[:, 2:46, 2:46, None].astype("float32")), "float64")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def probs_of(records):
    return np.array([[r["probabilities"][c] for c in CLASSES] for r in records])


@pytest.fixture(scope="module")
def faces(fer_small):
    images, _ = fer_small.split("PublicTest")
    return images[::20][:12]  # a dozen real faces, several classes


@pytest.fixture(scope="module")
def image_files(faces, tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, face in enumerate(faces[:5]):
        paths.append(root / f"face{i}.png")
        Image.fromarray(face).save(paths[-1])
    return paths


def test_images_no_detect_equal_model(run_dir, model, faces, image_files, tmp_path, capsys):
    from keras_fer.predict.cli import main

    out = tmp_path / "out"
    code = main([str(run_dir), *map(str, image_files), "--no-detect", "--json", "--out", str(out)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in result["images"]] == list(map(str, image_files))
    assert [r["box"] for r in result["images"]] == [[0, 0, 48, 48]] * 5
    ref = direct(model, faces[:5])
    np.testing.assert_allclose(probs_of(result["images"]), ref, atol=1e-5)
    assert [r["label"] for r in result["images"]] == [CLASSES[i] for i in ref.argmax(axis=1)]
    assert len((out / "predictions.csv").read_text().splitlines()) == 1 + 5
    assert json.loads((out / "predictions.json").read_text()) == result["images"]


def _write_video(path, frames, fps=10.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def _read_video(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(bgr)


@pytest.fixture(scope="module")
def video(faces, tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    frames = [cv2.cvtColor(cv2.resize(f, (96, 96), interpolation=cv2.INTER_CUBIC),
                           cv2.COLOR_GRAY2BGR) for f in faces]
    _write_video(path, frames)
    return path


def test_video_frames_and_predictions(run_dir, model, video, tmp_path, capsys):
    from keras import ops

    from keras_fer.predict.cli import main
    from keras_fer.predict.preprocess import to_face48

    out = tmp_path / "out"
    assert main([str(run_dir), str(video), "--no-detect", "--smooth", "3", "--json",
                 "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)["videos"][0]
    report = json.loads((out / "clip.json").read_text())
    rows = report["rows"]
    assert summary["frames"] == report["frames"] == len(rows) == 12
    assert len((out / "clip.csv").read_text().splitlines()) == 1 + 12
    assert [r["frame"] for r in rows] == list(range(12))
    assert rows[10]["time"] == pytest.approx(1.0)  # 10 fps
    decoded = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in _read_video(video)])
    faces48 = ops.convert_to_numpy(to_face48(decoded))[..., 0].astype("uint8")
    raw = probs_of(rows)
    np.testing.assert_allclose(raw, direct(model, faces48), atol=1e-5)
    smoothed = np.array([[r["smoothed"][c] for c in CLASSES] for r in rows])
    ref = np.array([raw[max(0, i - 2):i + 1].mean(axis=0) for i in range(12)])
    np.testing.assert_allclose(smoothed, ref, atol=1e-9)
    labels = [CLASSES[i] for i in ref.argmax(axis=1)]
    assert [r["label"] for r in rows] == labels
    assert report["distribution"] == {c: labels.count(c) for c in CLASSES}
    assert Image.open(out / "clip_emotions.png").format == "PNG"
    assert len(_read_video(out / "clip_annotated.mp4")) == 12


def test_haar_finds_a_clear_face(run_dir, fer_small, tmp_path, capsys):
    from keras_fer.predict.cli import main
    from keras_fer.predict.faces import HaarDetector

    detector = HaarDetector()
    images, labels = fer_small.split("PublicTest")
    picked = None
    for face in images[labels == fer_small.classes.index("happy")][:20]:
        big = cv2.resize(cv2.copyMakeBorder(face, 24, 24, 24, 24, cv2.BORDER_REPLICATE),
                         (384, 384), interpolation=cv2.INTER_CUBIC)
        if len(detector(np.repeat(big[..., None], 3, axis=-1))) == 1:
            picked = big
            break
    if picked is None:
        pytest.skip("the Haar cascade found no face in 20 upscaled FER2013 happy faces")
    Image.fromarray(picked).save(tmp_path / "face.png")
    Image.fromarray(np.full((200, 200), 128, "uint8")).save(tmp_path / "blank.png")
    assert main([str(run_dir), str(tmp_path / "face.png"), str(tmp_path / "blank.png"),
                 "--detector", "haar", "--json"]) == 0
    face, blank = json.loads(capsys.readouterr().out)["images"]
    x, y, w, h = face["box"]
    assert face["label"] in CLASSES and 0 <= x and 0 <= y and x + w <= 384 and y + h <= 384
    assert w >= 96 and blank["label"] is None and blank["note"] == "no face found"


def test_bad_inputs_exit_2_and_the_rest_is_processed(run_dir, image_files, tmp_path, capsys):
    from keras_fer.predict.cli import main

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg")
    missing = tmp_path / "missing.png"
    code = main([str(run_dir), str(missing), str(image_files[0]), str(bad), "--no-detect"])
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert code == 2 and len(errors) == 2
    assert errors[0] == f"error: {missing}: no such file or folder"
    assert errors[1].startswith(f"error: {bad}: cannot read image")
    assert captured.out.startswith(f"{image_files[0]}: face 0 at (0,0,48x48): ")


def test_16bit_png_scaled_to_8_bits(tmp_path):
    from keras_fer.predict.core import read_image

    values = np.linspace(0, 65535, 40 * 30).round().astype(np.uint16).reshape(30, 40)
    Image.fromarray(values).save(tmp_path / "face16.png")
    rgb = read_image(tmp_path / "face16.png")
    expected = np.round(values / 257).astype(np.uint8)
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], expected)


def test_subprocess_exit_2_without_traceback(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "keras_fer.predict", str(tmp_path / "nope"),
                           "x.png"], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'nope'}: no such run dir")


def test_unreadable_video_and_empty_folder(run_dir, image_files, tmp_path, capsys):
    from keras_fer.predict.cli import main

    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("x")
    Image.open(image_files[1]).save(tmp_path / "folder" / "a.png")
    code = main([str(run_dir), str(tmp_path / "broken.mp4"), str(tmp_path / "empty"),
                 str(tmp_path / "folder"), "--no-detect", "--json", "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 2
    result = json.loads(captured.out)
    assert [r["input"] for r in result["images"]] == [str(tmp_path / "folder" / "a.png")]
    assert len(result["errors"]) == 2 and len(captured.err.strip().splitlines()) == 2
    assert "broken.mp4: cannot read video" in captured.err and "empty: no image" in captured.err


def test_mtcnn_missing_is_a_user_error(run_dir, image_files, capsys, monkeypatch):
    from keras_fer.predict.cli import main

    monkeypatch.setitem(sys.modules, "mtcnn", None)  # as if not installed: import fails

    assert main([str(run_dir), str(image_files[0]), "--detector", "mtcnn"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install mtcnn" in err[0]


def test_an_mtcnn_that_cannot_start_is_one_line_exit_2_and_writes_nothing(run_dir, image_files,
                                                                          tmp_path, capsys,
                                                                          monkeypatch):
    """mtcnn found but not importable (its TensorFlow missing): MTCNN is made by the first
    detection, whose error is the command's one line."""
    from keras_fer.predict import faces
    from keras_fer.predict.cli import main

    monkeypatch.setattr(faces, "mtcnn_installed", lambda: True)
    monkeypatch.setitem(sys.modules, "mtcnn", None)  # its import fails
    out = tmp_path / "out"
    assert main([str(run_dir), str(image_files[0]), "--detector", "mtcnn", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the mtcnn detector cannot start: ")
    assert not out.exists()


def test_moving_average_and_expand_box():
    from keras_fer.predict.faces import expand_box
    from keras_fer.predict.video import moving_average

    p = np.random.default_rng(0).random((7, 3))
    ref = np.array([p[max(0, i - 3):i + 1].mean(axis=0) for i in range(7)])
    np.testing.assert_allclose(moving_average(p, 4), ref)
    assert np.array_equal(moving_average(p, 1), p)
    assert expand_box((10, 20, 30, 40), 0.25, 100, 100) == (0, 10, 55, 60)  # clipped left
    assert expand_box((80, 80, 20, 20), 0.5, 100, 100) == (70, 70, 30, 30)


def test_videos_of_the_same_name_do_not_replace_each_other(run_dir, tmp_path, capsys):
    from keras_fer.predict.cli import main

    fake = import_module("keras_fer_tests_fake_run")
    faces, _ = fake.synthetic_faces(7)
    bgr = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in faces]
    for folder, name, codec, n in (("cam1", "clip.mp4", "mp4v", 3), ("cam2", "clip.avi", "MJPG", 4)):
        (tmp_path / folder).mkdir()
        writer = cv2.VideoWriter(str(tmp_path / folder / name), cv2.VideoWriter_fourcc(*codec),
                                 10.0, (48, 48))
        for frame in bgr[:n]:
            writer.write(frame)
        writer.release()
    out = tmp_path / "out"
    assert main([str(run_dir), str(tmp_path / "cam1" / "clip.mp4"), str(tmp_path / "cam2" / "clip.avi"),
                 "--no-detect", "--no-video", "--out", str(out)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [
        "cam1_clip_mp4.csv", "cam1_clip_mp4.json", "cam1_clip_mp4.jsonl",
        "cam1_clip_mp4_emotions.png", "cam2_clip_avi.csv", "cam2_clip_avi.json",
        "cam2_clip_avi.jsonl", "cam2_clip_avi_emotions.png"]
    for stem, folder, name, n in (("cam1_clip_mp4", "cam1", "clip.mp4", 3),
                                  ("cam2_clip_avi", "cam2", "clip.avi", 4)):
        report = json.loads((out / f"{stem}.json").read_text())
        assert report["input"] == str(tmp_path / folder / name) and report["frames"] == n
        assert len((out / f"{stem}.csv").read_text().splitlines()) == 1 + n


def test_output_stems_are_distinct():
    from keras_fer.predict.video import output_stems

    paths = [Path("a/clip.mp4"), Path("b/clip.mp4"), Path("b/CLIP.avi"), Path("talk.mp4"),
             Path("predictions.mp4")]
    stems = output_stems(paths, reserved=("predictions",))
    assert stems == {Path("a/clip.mp4"): "a_clip_mp4", Path("b/clip.mp4"): "b_clip_mp4",
                     Path("b/CLIP.avi"): "b_CLIP_avi", Path("talk.mp4"): "talk",
                     Path("predictions.mp4"): "predictions_mp4"}
    # the joined parts may coincide: a number then tells them apart
    assert output_stems([Path("a_b/c.mp4"), Path("a/b/c.mp4")]) == {
        Path("a_b/c.mp4"): "a_b_c_mp4", Path("a/b/c.mp4"): "a_b_c_mp4-2"}


def test_a_releases_video_results_go_to_runs_predict_not_into_it(run_dir, video, tmp_path,
                                                               monkeypatch, capsys):
    import shutil

    from keras_fer import rundir
    from keras_fer.predict.cli import main

    release = tmp_path / "best"
    shutil.copytree(run_dir, release)
    (release / rundir.RELEASE_FILE).write_text("{}")
    before = sorted(p.relative_to(release) for p in release.rglob("*"))
    monkeypatch.chdir(tmp_path)
    assert main([str(release), str(video), "--no-detect"]) == 0
    assert (tmp_path / "runs" / "predict" / "best" / "clip.json").is_file()
    assert main([str(release), str(video), "--no-detect", "--out", str(release / "p")]) == 2
    assert "inside the release" in capsys.readouterr().err
    assert sorted(p.relative_to(release) for p in release.rglob("*")) == before
