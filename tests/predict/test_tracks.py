"""Every face of every frame, with a track id per face (IoU tracking) and smoothing per track:
a synthetic two-face video made from two FER2013 faces."""
import csv
import json

import cv2
import numpy as np
import pytest

FRAMES = 14
GONE = 6  # the frame where the left face is missing (a missed detection)


class Blobs:
    """A real detector for these videos: the bright regions of a dark frame (the pasted faces,
    lifted above the black background), largest first."""

    name = "blobs"

    def __call__(self, rgb):
        mask = (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) > 20).astype("uint8")
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [tuple(int(v) for v in s[:4]) for s in stats[1:] if s[4] > 400]
        return sorted(boxes, key=lambda b: -b[2] * b[3])


def face_path(t):
    """(left face (x, y, side), right face (x, y, side)) in frame t: they drift towards each
    other and the left one grows, so the largest-first order swaps half way."""
    return (20 + 3 * t, 40, 60 + 4 * t), (300 - 4 * t, 50, 100)


@pytest.fixture(scope="module")
def two_faces(fer_small, tmp_path_factory):
    images, labels = fer_small.split("PublicTest")
    a, b = images[labels == 3][0], images[labels == 5][0]  # a happy and a surprised face
    path = tmp_path_factory.mktemp("tracks") / "two.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (448, 240))
    for t in range(FRAMES):
        frame = np.zeros((240, 448), "uint8")
        for k, (x, y, side) in enumerate(face_path(t)):
            if k == 0 and t == GONE:
                continue
            face = cv2.resize((a, b)[k], (side, side), interpolation=cv2.INTER_CUBIC)
            frame[y:y + side, x:x + side] = np.maximum(face, 60)  # above the mask's cut
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_every_face_with_a_stable_track_id(run_dir, two_faces, tmp_path):
    import keras_fer
    from keras_fer.predict.video import predict_video

    rec = keras_fer.load(run_dir, detector=Blobs(), margin=0.0)
    summary = predict_video(rec, two_faces, tmp_path, smooth=3, annotate=False)
    rows = json.loads((tmp_path / "two.json").read_text())["rows"]
    assert [json.loads(line) for line in (tmp_path / "two.jsonl").read_text().splitlines()] == rows
    assert summary["frames"] == summary["frames_with_face"] == FRAMES
    assert summary["faces"] == len(rows) == 2 * FRAMES - 1 and summary["tracks"] == 2
    assert [r["frame"] for r in rows].count(GONE) == 1
    for r in rows:  # each track stays on its face: track 0 the right (largest at first) face
        x, y, side = face_path(r["frame"])[1 - r["track"]]
        bx, by, bw, bh = r["box"]
        assert abs(bx - x) <= 2 and abs(by - y) <= 2 and abs(bw - side) <= 4
    orders = {tuple(r["track"] for r in rows if r["frame"] == t) for t in range(FRAMES)}
    assert orders == {(0, 1), (1, 0), (0,)}  # largest first: the order swapped, the ids did not
    for track in (0, 1):  # smoothing per track: the trailing mean of that track's frames only
        mine = [r for r in rows if r["track"] == track]
        raw = np.array([list(r["probabilities"].values()) for r in mine])
        ref = [raw[max(0, i - 2):i + 1].mean(axis=0) for i in range(len(mine))]
        np.testing.assert_allclose([list(r["smoothed"].values()) for r in mine], ref, atol=1e-9)
    with open(tmp_path / "two.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(int(r["frame"]), int(r["track"]), int(r["x"])) for r in table] == [
        (r["frame"], r["track"], r["box"][0]) for r in rows]


def test_tracker_matches_by_overlap_and_forgets_after_max_missing():
    from keras_fer.predict.video import Tracker

    t = Tracker(max_missing=1)
    assert t.assign([(0, 0, 10, 10), (50, 0, 10, 10)]) == [0, 1]
    assert t.assign([(52, 0, 10, 10), (1, 1, 10, 10)]) == [1, 0]
    assert t.assign([]) == []  # one frame missing: kept
    assert t.assign([(2, 1, 10, 10)]) == [0]
    assert t.assign([]) == [] and t.assign([]) == []  # track 1 unseen for 4 frames, 0 for 2
    assert t.assign([(52, 0, 10, 10), (200, 0, 5, 5)]) == [2, 3]  # new ids, never reused


def test_stream_writes_a_line_per_face(run_dir, two_faces):
    import io

    import keras_fer
    from keras_fer.predict.live import stream

    out = io.StringIO()
    summary = stream(keras_fer.load(run_dir, detector=Blobs(), margin=0.0), str(two_faces),
                     smooth=1, window=False, max_frames=8, out=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary["frames"] == summary["frames_with_face"] == 8
    assert [(r["frame"], r["track"]) for r in rows if r["frame"] in (5, 6, 7)] == [
        (5, 0), (5, 1), (6, 0), (7, 0), (7, 1)]
