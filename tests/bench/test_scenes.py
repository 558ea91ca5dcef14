"""The end-to-end scene benchmark: scenes with known boxes and labels, matching, scoring, the
sweep over margin / confidence cut / alignment, and its CLI."""
import json

import numpy as np
import pytest


def test_paste_puts_the_face_in_its_square_and_nothing_outside():
    from keras_fer.bench.scenes import paste

    scene = np.zeros((120, 160, 3), "uint8")
    paste(scene, np.full((48, 48), 200, "uint8"), (80, 60), 96, 0.0)
    inner = scene[12 + 18:108 - 18, 32 + 18:128 - 18]  # the square less its feathered edge
    assert (inner == 200).all()
    outside = np.ones((120, 160), bool)
    outside[12:108, 32:128] = False
    assert (scene[outside] == 0).all()


def test_scenes_have_several_separate_labelled_faces_some_rotated():
    from keras_fer.bench.scenes import FACE_SIDE, SIZE, iou, make_scene

    faces = np.stack([np.full((48, 48), 100 + 20 * k, "uint8") for k in range(7)])
    rng = np.random.default_rng(1)
    counts, angles = [], []
    for _ in range(12):
        scene, boxes, labels, turned = make_scene(faces, np.arange(7), rng)
        assert scene.shape == (*SIZE, 3) and scene.dtype == np.uint8
        counts.append(len(boxes))
        angles += turned
        assert len(labels) == len(turned) == len(boxes)
        for i, ((x, y, w, h), label) in enumerate(zip(boxes, labels)):
            assert w == h and FACE_SIDE[0] <= w <= FACE_SIDE[1]
            assert 0 <= x and 0 <= y and x + w <= SIZE[1] and y + h <= SIZE[0]
            assert (scene[y + h // 2, x + w // 2] == 100 + 20 * label).all()  # its face's grey
            assert all(iou(boxes[i], b, grow=0.45) == 0 for b in boxes[i + 1:])
    assert set(counts) == {2, 3, 4}
    assert 0.3 < np.mean(np.array(angles) == 0) < 0.7 and max(map(abs, angles)) <= 30


def test_iou_and_greedy_matching():
    from keras_fer.bench.scenes import iou, match

    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    truth = [(0, 0, 10, 10), (100, 100, 10, 10)]
    assert match(truth, [(1, 1, 10, 10), (0, 0, 9, 9), (50, 50, 5, 5)], 0.5) == [(0, 1)]
    assert match(truth, [], 0.5) == []


class GreyLevel:
    """A classifier of the scenes' flat faces: the label is the face's grey level."""

    def proba(self, faces):
        labels = np.clip(np.round((np.median(faces, axis=(1, 2)) - 100) / 20), 0, 6)
        return np.eye(7)[labels.astype(int)]


def scenes_and_truth(n=6):
    from keras_fer.bench.scenes import make_scene

    faces = np.stack([np.full((48, 48), 100 + 20 * k, "uint8") for k in range(7)])
    rng = np.random.default_rng(2)
    return [make_scene(faces, np.arange(7), rng) for _ in range(n)]


def test_sweep_scores_exact_counts_per_setting():
    from keras_fer.bench.scenes import Stored, best, sweep

    scenes = scenes_and_truth()
    faces = sum(len(s[1]) for s in scenes)
    # the true boxes, the first face of each scene with a low score, and one false detection
    detections = [[{"box": b, "confidence": 0.6 if i == 0 else 0.99} for i, b in enumerate(s[1])]
                  + [{"box": (0, 0, 30, 30), "confidence": 0.95}] for s in scenes]
    assert Stored(detections[0]).detect(None) is detections[0]
    rows = sweep(GreyLevel(), scenes, detections, margins=(0.0,), confidences=(0.5, 0.9),
                 aligns=(False,))
    low, high = rows
    assert (low["min_confidence"], high["min_confidence"]) == (0.5, 0.9)
    assert low["faces"] == high["faces"] == faces
    assert low["recall"] == 1.0 and high["recall"] == round((faces - len(scenes)) / faces, 4)
    assert low["accuracy"] == high["accuracy"] == 1.0  # a face's crop holds only its grey
    assert low["false_per_scene"] == high["false_per_scene"] == 1.0
    assert best(rows) is low
    tie = dict(low, min_confidence=0.7)
    assert best([low, tie]) is tie  # a tie goes to the higher cut


def test_cli_table_json_and_fer_refusal(fer_small_dir, tiny_run, tmp_path, capsys):
    from keras_fer.bench.scenes import main

    out = tmp_path / "scenes.json"
    assert main(["--data", str(fer_small_dir), "--run", str(tiny_run), "--scenes", "2",
                 "--detectors", "haar", "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| pipeline | settings | faces | recall |")
    assert table[2].startswith("| keras_fer + haar | margin ") and len(table) == 3
    saved = json.loads(out.read_text())
    assert len(saved["sweeps"]["haar"]) == 5 * 6 and saved["results"]["keras_fer + haar"]["faces"] >= 4
    assert main(["--detectors", "haar,yunet"]) == 2
    assert capsys.readouterr().err.startswith("error: --detector: unknown detector 'yunet'")
    assert main(["--fer", str(tmp_path / "none.whl")]) == 2
    assert "error: --fer" in capsys.readouterr().err
