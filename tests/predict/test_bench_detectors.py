"""The detector benchmark's scenes (known boxes), matching, and its CLI."""
import json

import numpy as np
import pytest


def test_paste_puts_the_face_in_its_square_and_nothing_outside():
    from keras_fer.predict.bench_detectors import paste

    scene = np.zeros((120, 160, 3), "uint8")
    paste(scene, np.full((48, 48), 200, "uint8"), (80, 60), 96, 0.0)
    inner = scene[12 + 18:108 - 18, 32 + 18:128 - 18]  # the square less its feathered edge
    assert (inner == 200).all()
    outside = np.ones((120, 160), bool)
    outside[12:108, 32:128] = False
    assert (scene[outside] == 0).all()


def test_scenes_have_separate_faces_inside_the_image():
    from keras_fer.predict.bench_detectors import FACE_SIDE, SIZE, iou, make_scene

    faces = np.full((3, 48, 48), 255, "uint8")
    rng = np.random.default_rng(1)
    counts = []
    for _ in range(12):
        scene, boxes = make_scene(faces, rng)
        assert scene.shape == (*SIZE, 3) and scene.dtype == np.uint8
        counts.append(len(boxes))
        for i, (x, y, w, h) in enumerate(boxes):
            assert w == h and FACE_SIDE[0] <= w <= FACE_SIDE[1]
            assert 0 <= x and 0 <= y and x + w <= SIZE[1] and y + h <= SIZE[0]
            assert (scene[y + h // 2, x + w // 2] == 255).all()  # the face's centre
            assert all(iou(boxes[i], b, grow=0.45) == 0 for b in boxes[i + 1:])
    assert set(counts) == {0, 1, 2, 3}


def test_iou_and_greedy_matching():
    from keras_fer.predict.bench_detectors import iou, match

    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    truth = [(0, 0, 10, 10), (100, 100, 10, 10)]
    assert match(truth, [(1, 1, 10, 10), (0, 0, 9, 9), (50, 50, 5, 5)], 0.5) == (1, 2)
    assert match(truth, [], 0.5) == (0, 0)


def test_a_perfect_and_a_blind_detector():
    from keras_fer.predict.bench_detectors import evaluate, make_scene

    rng = np.random.default_rng(2)
    scenes = [make_scene(np.full((2, 48, 48), 128, "uint8"), rng) for _ in range(8)]
    truth = {id(rgb): boxes for rgb, boxes in scenes}
    faces = sum(len(b) for b in truth.values())
    perfect = evaluate(lambda rgb: truth[id(rgb)], scenes)
    assert perfect["faces"] == faces > 0 and perfect["images"] == 8
    assert perfect["recall_iou50"] == perfect["recall_iou30"] == 1.0
    assert perfect["false_positives_per_image"] == 0.0
    blind = evaluate(lambda rgb: [(0, 0, 5, 5)], scenes)
    assert blind["recall_iou50"] == 0.0 and blind["false_positives_per_image"] == 1.0


def test_cli_table_and_json(fer_small_dir, tmp_path, capsys):
    from keras_fer.predict.bench_detectors import main

    out = tmp_path / "detectors.json"
    assert main(["--data", str(fer_small_dir), "--images", "3", "--detectors", "haar",
                 "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| detector | recall @ IoU 0.5 |") and table[2].startswith("| haar |")
    assert json.loads(out.read_text())["results"]["haar"]["images"] == 3
    assert main(["--detectors", "haar,yunet"]) == 2
    assert capsys.readouterr().err.startswith("error: --detector: unknown detector 'yunet'")
