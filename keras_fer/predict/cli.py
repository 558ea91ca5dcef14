"""``python -m keras_fer.predict MODEL_DIR INPUT... [--json] [--out DIR] [--detector haar|mtcnn]
[--no-detect] [--smooth K] [--margin 0.2]``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from keras_fer import rundir
from keras_fer.errors import ArgumentParser, UserError, cli_main
from keras_fer.io_utils import check_out_dir, write_json, write_text
from keras_fer.predict.core import IMAGES_STEM, Predictor, expand_inputs, records_csv
from keras_fer.predict.faces import DETECTORS, make_detector
from keras_fer.predict.video import output_stems, predict_video


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m keras_fer.predict",
        description="Facial expression of the faces in images, folders and videos (mp4/avi).")
    p.add_argument("model_dir", help="a run directory holding model.keras and meta.json")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, videos")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    p.add_argument("--out", help="output folder: predictions.csv/.json for images; per video "
                   "a CSV, a JSON, a bar chart and an annotated video (default MODEL_DIR/predict "
                   "for videos; images: printed only)")
    p.add_argument("--detector", default="haar", choices=DETECTORS,
                   help="face detector (default haar; mtcnn needs `pip install mtcnn`)")
    p.add_argument("--no-detect", action="store_true",
                   help="the inputs are face crops already: classify the whole image")
    p.add_argument("--smooth", type=int, default=1, metavar="K",
                   help="videos: moving average of the probabilities over K frames (default 1)")
    p.add_argument("--margin", type=float, default=0.2,
                   help="fraction of the face box added on each side (default 0.2)")
    p.add_argument("--no-video", action="store_true", help="videos: skip the annotated video")
    return p


def _line(record) -> str:
    if record["label"] is None:
        return f"{record['input']}: no face found"
    p = record["probabilities"][record["label"]]
    x, y, w, h = record["box"]
    return (f"{record['input']}: face {record['face']} at ({x},{y},{w}x{h}): "
            f"{record['label']} {p:.3f}")


@cli_main
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.smooth < 1:
        raise UserError(f"--smooth must be >= 1, got {args.smooth}")
    if not 0.0 <= args.margin <= 1.0:
        raise UserError(f"--margin must be between 0 and 1, got {args.margin}")
    rundir.check_run_dir(args.model_dir)
    items, errors = expand_inputs(args.inputs)
    video_out = Path(args.out) if args.out else Path(args.model_dir) / "predict"
    stems = output_stems([path for path, kind in items if kind == "video"], reserved=(IMAGES_STEM,))
    if stems or args.out:  # before the model is loaded: a bad folder fails at once
        check_out_dir(video_out)
    detector = None if args.no_detect else make_detector(args.detector)
    predictor = Predictor(args.model_dir, detector, margin=args.margin)
    for line in errors:
        print(f"error: {line}", file=sys.stderr, flush=True)
    images, videos = [], []
    for path, kind in items:
        try:
            if kind == "image":
                records = predictor.image(path)
                images += records
                if not args.json:
                    print("\n".join(_line(r) for r in records), flush=True)
            else:
                summary = predict_video(predictor, path, video_out, smooth=args.smooth,
                                        annotate=not args.no_video, stem=stems[path])
                videos.append(summary)
                if not args.json:
                    d = ", ".join(f"{c} {n}" for c, n in summary["distribution"].items() if n)
                    print(f"{path}: {summary['frames']} frames, {summary['frames_with_face']} "
                          f"with a face ({d or 'none'}) -> {summary['files']['json']}", flush=True)
        except UserError as e:
            errors.append(str(e))
            print(f"error: {e}", file=sys.stderr, flush=True)
    if args.out and images:
        write_json(Path(args.out) / f"{IMAGES_STEM}.json", images)
        write_text(Path(args.out) / f"{IMAGES_STEM}.csv", records_csv(images, predictor.classes))
    if args.json:
        print(json.dumps({"classes": predictor.classes, "images": images, "videos": videos,
                          "errors": errors}, indent=1))
    return 2 if errors else 0
