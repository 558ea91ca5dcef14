"""``keras-fer predict [MODEL_DIR] INPUT... | --camera SOURCE [--json] [--out DIR] [--force]
[--detector haar|mtcnn] [--no-detect] [--smooth K] [--margin M] [--align] [--engine E]`` (also
``python -m keras_fer.predict``). Without MODEL_DIR (or ``--model``), the released model that
ships with keras_fer. An output file never replaces an input, nor an existing file without
``--force`` (checked before the model is loaded); a folder input skips the output folder."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keras_fer import rundir
from keras_fer.errors import ArgumentParser, DiskFull, UserError, cli_main
from keras_fer.io_utils import check_out_dir, disk_full_is_user_error, write_json, write_text
from keras_fer.predict.classifier import ENGINES, is_model_dir, model_kind
from keras_fer.predict.core import IMAGES_STEM, Predictor, expand_inputs, kind_of, records_csv
from keras_fer.predict.faces import ALIGN, DETECTORS, MARGIN, make_detector
from keras_fer.predict.video import output_files, output_stems, predict_video

LIVE_SMOOTH = 5  # --smooth's default with --camera: a live label should not flicker
BATCH = 64  # images read, detected and then classified together


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m keras_fer.predict",
        description="Facial expression of the faces in images, folders, videos (mp4/avi) and "
                    "live streams (--camera).")
    p.add_argument("inputs", nargs="*", metavar="[MODEL_DIR] INPUT",
                   help="image files, folders, videos; first, optionally, a run directory or "
                        "an exported SavedModel (default: the released model)")
    p.add_argument("--model", metavar="DIR", help="the model: a run directory or an exported "
                   "SavedModel (default: the released model that ships with keras_fer)")
    p.add_argument("--camera", metavar="SOURCE",
                   help="live: a camera index (0), a device or a stream URL (anything OpenCV "
                        "captures; a video file too): one JSON line per frame on stdout")
    p.add_argument("--frames", type=int, metavar="N", help="--camera: stop after N frames")
    p.add_argument("--no-window", action="store_true",
                   help="--camera: no annotated window (there is none where OpenCV has no GUI)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    p.add_argument("--out", help="output folder: predictions.csv/.json for images; per video "
                   "a CSV, a JSON, a bar chart and an annotated video (default MODEL_DIR/predict, "
                   "runs/predict/<name> for a release, for videos; ./predict with the installed "
                   "released model; images: printed only)")
    p.add_argument("--detector", default="auto", choices=DETECTORS,
                   help="face detector: auto (the default) is mtcnn where the mtcnn package is "
                        "installed (pip install keras_fer[mtcnn]), else haar")
    p.add_argument("--no-detect", action="store_true",
                   help="the inputs are face crops already: classify the whole image")
    p.add_argument("--smooth", type=int, metavar="K",
                   help="videos and streams: trailing mean of the probabilities over K frames "
                        f"(default 1 for video files, {LIVE_SMOOTH} with --camera)")
    p.add_argument("--engine", choices=ENGINES,
                   help="what runs the model: litert (the int8 TFLite), savedmodel or keras "
                        "(model.keras); default: the fastest faithful one the model has "
                        "(LiteRT where the export's int8 parity check passed)")
    p.add_argument("--margin", type=float, default=MARGIN,
                   help="fraction of the face box added on each side before cropping (default "
                        f"{MARGIN}, chosen on the scene benchmark)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=ALIGN,
                   help="rotate each face to level its eyes, where the detector gives them "
                        f"(mtcnn) (default {'on' if ALIGN else 'off'})")
    p.add_argument("--no-video", action="store_true", help="videos: skip the annotated video")
    p.add_argument("--force", action="store_true",
                   help="replace output files that exist (never an input), and write into a "
                        "release with --out")
    return p


def split_model(args) -> tuple:
    """(model directory or None, inputs) from the positional arguments: the first is the model
    when it is a run directory or a SavedModel, or when, followed by inputs, it is a path that
    does not exist and is no image or video name (a mistyped run directory)."""
    items = list(args.inputs)
    if args.model is not None or not items:
        return args.model, items
    first = items[0]
    if is_model_dir(first) or (args.camera is not None and len(items) == 1) or (
            len(items) > 1 and not Path(first).exists() and kind_of(first) is None):
        return first, items[1:]
    return None, items


def _line(record) -> str:
    if record["label"] is None:
        return f"{record['input']}: no face found"
    p = record["probabilities"][record["label"]]
    x, y, w, h = record["box"]
    return (f"{record['input']}: face {record['face']} at ({x},{y},{w}x{h}): "
            f"{record['label']} {p:.3f}")


def check_args(args, inputs) -> None:
    for name in ("smooth", "frames"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name} must be >= 1, got {value}")
    if not 0.0 <= args.margin <= 1.0:
        raise UserError(f"--margin must be between 0 and 1, got {args.margin}")
    if args.camera is not None and inputs:
        raise UserError(f"--camera takes no INPUT (got {inputs[0]}); the only argument it "
                        "takes is MODEL_DIR")
    if args.camera is None and not inputs:
        raise UserError("nothing to predict: give image files, folders or videos, or --camera "
                        "SOURCE")
    if args.camera is None and args.frames is not None:
        raise UserError("--frames goes with --camera")


def check_outputs(outputs, inputs, force=False) -> None:
    """UserError, before any work, when an output file would replace an input (never allowed)
    or an existing file (only with ``force``)."""
    inputs = {Path(p).resolve(): p for p in inputs}
    for path in map(Path, outputs):
        if path.resolve() in inputs:
            raise UserError(f"{path}: an output would replace this input; choose another --out")
    for path in map(Path, outputs):
        if path.exists() and not force:
            raise UserError(f"{path}: exists (an earlier prediction's, or another file); pass "
                            "--force to replace it, or choose another --out")


def planned_outputs(args, items, stems, video_out) -> list:
    """The files predict will write: per video ``output_files``, and with --out the images'
    predictions.json and .csv."""
    files = [f for path, kind in items if kind == "video"
             for f in output_files(video_out, stems[path], not args.no_video).values()]
    if args.out and any(kind == "image" for _, kind in items):
        files += [Path(args.out) / f"{IMAGES_STEM}.{ext}" for ext in ("json", "csv")]
    return files


def live(predictor, args) -> int:
    from keras_fer.predict.live import stream

    smooth = LIVE_SMOOTH if args.smooth is None else args.smooth
    summary = stream(predictor, args.camera, smooth=smooth, window=not args.no_window,
                     max_frames=args.frames)
    print(f"{summary['source']}: {summary['frames']} frames, {summary['frames_with_face']} "
          f"with a face, {summary['fps']} frames/s (detection included)", file=sys.stderr)
    if summary.get("stalled_s"):
        print(f"error: {summary['source']}: the stream stalled: no frame came for "
              f"{summary['stalled_s']} s, so it was ended", file=sys.stderr)
        return 2
    return 0


@cli_main
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    model_dir, inputs = split_model(args)
    check_args(args, inputs)
    if model_dir is None:
        from keras_fer.resources import release_dir

        model_dir = release_dir()
        video_out = Path(args.out or "predict")  # never into the installed package
    else:
        engine, _ = model_kind(model_dir, args.engine)  # its mistakes first, before TensorFlow
        if engine == "keras":
            rundir.class_names(model_dir)  # a killed run's outputs that no names fit, too
        # MODEL_DIR/predict, or runs/predict/<name> for a release (or a folder in one), which is
        # read-only; an --out inside a release is refused
        video_out = rundir.output_dir(model_dir, "predict", args.out, args.force)
    items, errors = expand_inputs(inputs, skip=video_out)
    stems = output_stems([path for path, kind in items if kind == "video"], reserved=(IMAGES_STEM,))
    if stems or args.out:  # before the model is loaded: a bad folder fails at once
        check_out_dir(video_out)
        check_outputs(planned_outputs(args, items, stems, video_out), [p for p, _ in items],
                      args.force)
    detector = None if args.no_detect else make_detector(args.detector)
    predictor = Predictor(model_dir, detector, margin=args.margin, align=args.align,
                          engine=args.engine)
    if args.camera is not None:
        return live(predictor, args)
    for line in errors:
        print(f"error: {line}", file=sys.stderr, flush=True)
    images, videos = [], []
    pending = []  # consecutive image files, classified together

    def run_images():
        for path, records in predictor.images(pending, batch_size=BATCH):
            if isinstance(records, UserError):
                errors.append(str(records))
                print(f"error: {records}", file=sys.stderr, flush=True)
                continue
            images.extend(records)
            if not args.json:
                print("\n".join(_line(r) for r in records), flush=True)
        pending.clear()

    for path, kind in items:
        if kind == "image":
            pending.append(path)
            continue
        run_images()
        try:
            smooth = 1 if args.smooth is None else args.smooth
            summary = predict_video(predictor, path, video_out, smooth=smooth,
                                    annotate=not args.no_video, stem=stems[path])
            videos.append(summary)
            if not args.json:
                d = ", ".join(f"{c} {n}" for c, n in summary["distribution"].items() if n)
                print(f"{path}: {summary['frames']} frames, {summary['frames_with_face']} "
                      f"with a face ({d or 'none'}) -> {summary['files']['json']}", flush=True)
        except DiskFull:
            raise  # every next file would fail too
        except UserError as e:
            errors.append(str(e))
            print(f"error: {e}", file=sys.stderr, flush=True)
    run_images()
    if args.out and images:
        files = [Path(args.out) / f"{IMAGES_STEM}.{ext}" for ext in ("json", "csv")]
        with disk_full_is_user_error(args.out, *files):
            write_json(files[0], images)
            write_text(files[1], records_csv(images, predictor.classes))
    if args.json:
        print(json.dumps({"classes": predictor.classes,
                          "detector": getattr(detector, "name", None), "images": images,
                          "videos": videos, "errors": errors}, indent=1))
    return 2 if errors else 0
