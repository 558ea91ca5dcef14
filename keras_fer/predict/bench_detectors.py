"""Face detector benchmark on scenes with known boxes: FER2013 faces pasted, upscaled and
rotated, onto synthetic backgrounds (gradients, noise, shapes; nothing downloaded).

    python -m keras_fer.predict.bench_detectors --data data --images 200 \
        --out runs/bench/detectors.json
    python -m keras_fer.predict.bench_detectors --data data --images 300 --detectors "" \
        --video runs/bench/scenes.mp4   # then: keras-fer predict --camera runs/bench/scenes.mp4

Per detector: recall at IoU 0.5 (and 0.3) against the pasted squares, false positives per
image (detections that match no face at IoU 0.5), milliseconds per image (wall clock, the first
call left out as warm-up). A FER2013 crop is a face with some background around it, so a
detector's box is smaller than the square: at least 0.71 of its side, when inside it, to count
at IoU 0.5.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from keras_fer.errors import ArgumentParser, UserError, cli_main

SIZE = (480, 640)  # scene height, width
FACE_SIDE = (48, 200)  # pasted face side in pixels (FER2013's 48 upscaled up to ~4x)
MAX_ANGLE = 20.0  # degrees either way
FACES_PER_IMAGE = (0, 3)  # inclusive; scenes without a face count false positives only


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


def make_scene(faces, rng, size=SIZE) -> tuple:
    """(RGB scene, ground-truth boxes [(x, y, side, side), ...]): 0 to 3 faces of ``faces``
    (uint8 (N, 48, 48)) at random scales, places and angles, not overlapping."""
    scene = background(rng, size)
    h, w = size
    boxes = []
    for _ in range(rng.integers(FACES_PER_IMAGE[0], FACES_PER_IMAGE[1] + 1)):
        for _attempt in range(30):
            side = int(rng.integers(FACE_SIDE[0], FACE_SIDE[1] + 1))
            reach = int(np.ceil(side * 0.71)) + 1  # half the diagonal: a rotated face fits
            if 2 * reach >= min(h, w):
                continue
            cx, cy = int(rng.integers(reach, w - reach)), int(rng.integers(reach, h - reach))
            box = (cx - side // 2, cy - side // 2, side, side)
            if all(iou(box, b, grow=0.45) == 0 for b in boxes):
                paste(scene, faces[rng.integers(len(faces))], (cx, cy), side,
                      float(rng.uniform(-MAX_ANGLE, MAX_ANGLE)))
                boxes.append(box)
                break
    return scene, boxes


def iou(a, b, grow=0.0) -> float:
    """Intersection over union of two (x, y, w, h) boxes, each first grown by ``grow`` of its
    side on every side (to keep pasted faces apart)."""
    def corners(box):
        x, y, w, h = box
        return x - grow * w, y - grow * h, x + w * (1 + grow), y + h * (1 + grow)

    ax0, ay0, ax1, ay1 = corners(a)
    bx0, by0, bx1, by1 = corners(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def match(truth, found, threshold) -> tuple:
    """(faces found, false detections): greedy one-to-one matching, best IoU first."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
                   reverse=True)
    used_t, used_f = set(), set()
    for score, i, j in pairs:
        if score >= threshold and i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    return len(used_t), len(found) - len(used_f)


def evaluate(detector, scenes) -> dict:
    """Recall at IoU 0.5 and 0.3, false positives per image and ms per image of ``detector``
    (``rgb -> [(x, y, w, h), ...]``) on ``scenes`` [(rgb, boxes), ...]."""
    detector(scenes[0][0])  # warm-up: graph tracing, caches
    faces = hits = hits_03 = false = 0
    seconds = []
    for rgb, truth in scenes:
        start = time.perf_counter()
        found = detector(rgb)
        seconds.append(time.perf_counter() - start)
        got, wrong = match(truth, found, 0.5)
        hits, false, faces = hits + got, false + wrong, faces + len(truth)
        hits_03 += match(truth, found, 0.3)[0]
    return {"images": len(scenes), "faces": faces, "recall_iou50": hits / max(1, faces),
            "recall_iou30": hits_03 / max(1, faces), "false_positives_per_image":
            false / len(scenes), "ms_per_image": 1000 * float(np.mean(seconds)),
            "ms_per_image_median": 1000 * float(np.median(seconds))}


def table(results) -> str:
    lines = ["| detector | recall @ IoU 0.5 | recall @ IoU 0.3 | false positives / image | "
             "ms / image (mean, median) |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['recall_iou50']:.3f} | {r['recall_iou30']:.3f} | "
                     f"{r['false_positives_per_image']:.2f} | {r['ms_per_image']:.0f}, "
                     f"{r['ms_per_image_median']:.0f} |")
    return "\n".join(lines)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m keras_fer.predict.bench_detectors",
                       description=__doc__.split("\n")[0])
    p.add_argument("--data", help="FER2013 (default: data/); the faces come from PrivateTest")
    p.add_argument("--images", type=int, default=100, help="scenes (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detectors", default="mtcnn,haar",
                   help="comma-separated, from mtcnn, haar (default both)")
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
        for rgb, _ in scenes:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()


@cli_main
def main(argv=None) -> int:
    from keras_fer.data import load
    from keras_fer.io_utils import write_json
    from keras_fer.predict.faces import make_detector

    args = build_parser().parse_args(argv)
    if args.images < 1:
        raise UserError(f"--images must be >= 1, got {args.images}")
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    detectors = {name: make_detector(name) for name in names}  # an unknown name: UserError
    faces, _ = load(args.data).split("PrivateTest")
    rng = np.random.default_rng(args.seed)
    scenes = [make_scene(faces, rng) for _ in range(args.images)]
    if args.video:
        write_video(scenes, args.video)
        print(f"wrote {args.video} ({len(scenes)} frames)", file=sys.stderr)
    results = {}
    for name, detector in detectors.items():
        results[name] = evaluate(detector, scenes)
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    if results:
        print(table(results))
    if args.out:
        write_json(args.out, {"seed": args.seed, "size": list(SIZE), "face_side": FACE_SIDE,
                              "max_angle": MAX_ANGLE, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
