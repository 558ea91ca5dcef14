"""Live streams (--camera) go through the video code: a synthetic video read as a stream gives
one JSON line per frame, the rows of the file path, with causal smoothing."""
import json
from importlib import import_module

import cv2
import numpy as np
import pytest

CLASSES = import_module("keras_fer_tests_fake_run").CLASSES  # loaded by conftest.py
synthetic_faces = import_module("keras_fer_tests_fake_run").synthetic_faces


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """12 frames (96x96, 10 fps) of synthetic faces."""
    path = tmp_path_factory.mktemp("live") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 96))
    for face in synthetic_faces(12, seed=11)[0]:
        writer.write(cv2.cvtColor(cv2.resize(face, (96, 96)), cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_stream_rows_are_the_file_rows_one_json_line_each(run_dir, clip, tmp_path, capsys):
    from keras_fer.predict.cli import LIVE_SMOOTH, main

    assert main([str(run_dir), "--camera", str(clip), "--no-detect", "--no-window"]) == 0
    captured = capsys.readouterr()
    live = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["frame"] for r in live] == list(range(12))
    assert captured.err.startswith(f"{clip}: 12 frames, 12 with a face, ")
    assert captured.err.endswith(" frames/s (detection included)\n")
    assert main([str(run_dir), str(clip), "--no-detect", "--smooth", str(LIVE_SMOOTH), "--json",
                 "--out", str(tmp_path / "file"), "--no-video"]) == 0
    capsys.readouterr()
    rows = json.loads((tmp_path / "file" / "clip.json").read_text())["rows"]
    assert [r["box"] for r in live] == [r["box"] for r in rows] == [[0, 0, 96, 96]] * 12
    assert [r["label"] for r in live] == [r["label"] for r in rows]
    for key in ("probabilities", "smoothed"):
        np.testing.assert_allclose([[r[key][c] for c in CLASSES] for r in live],
                                   [[r[key][c] for c in CLASSES] for r in rows], atol=1e-5)
    raw = np.array([[r["probabilities"][c] for c in CLASSES] for r in live])
    causal = [raw[max(0, i - LIVE_SMOOTH + 1):i + 1].mean(axis=0) for i in range(12)]
    np.testing.assert_allclose([[r["smoothed"][c] for c in CLASSES] for r in live], causal,
                               atol=1e-9)
    times = [r["time"] for r in live]
    assert times[0] == 0.0 and times == sorted(times)  # seconds since the first frame


def test_frames_limit_headless_and_smoothing_off(run_dir, clip, monkeypatch):
    import io

    import keras_fer
    from keras_fer.predict.live import stream

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = io.StringIO()
    summary = stream(keras_fer.load(run_dir, detector=None), str(clip), smooth=1,
                     max_frames=4, out=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary["frames"] == summary["frames_with_face"] == len(rows) == 4
    assert summary["window"] is False and summary["fps"] > 0
    assert all("smoothed" not in r for r in rows)


@pytest.mark.parametrize("argv, message", [
    (["--camera", "0", "x.png"], "error: --camera takes no INPUT (got x.png)"),
    (["--frames", "3", "x.png"], "error: --frames goes with --camera"),
    (["--camera", "nowhere.mp4", "--frames", "0"], "error: --frames must be >= 1, got 0"),
])
def test_camera_mistakes_are_one_line(run_dir, argv, message, capsys):
    from keras_fer.predict.cli import main

    assert main(["--model", str(run_dir), *argv]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(message)


def test_a_source_opencv_cannot_open_is_one_line(run_dir, tmp_path, capsys):
    from keras_fer.predict.cli import main

    assert main([str(run_dir), "--camera", str(tmp_path / "nowhere.mp4"), "--no-window"]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'nowhere.mp4'}: cannot read stream "
                                       "(OpenCV could not open it)\n")
