"""``python -m keras_fer.export MODEL_DIR [--format ...] [--out DIR] [--data PATH] [--force]
[--precision float32|bfloat16]``."""
from __future__ import annotations

import sys

from keras_fer import rundir
from keras_fer.data.classes import add_classes_option
from keras_fer.devices import under_tensorflow
from keras_fer.errors import ArgumentParser, UserError, cli_main
from keras_fer.export.core import (
    DEFAULT_FORMATS,
    EXPORT_DIR,
    FORMATS,
    PER_CLASS,
    export_run,
    load_images,
    parse_formats,
)
from keras_fer.export.fold import PRECISIONS
from keras_fer.export.tflite import ONNX_PIP
from keras_fer.io_utils import check_out_dir


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m keras_fer.export",
        description="Export a run's model.keras as a TensorFlow SavedModel (images of any size, "
                    "uint8 or float pixel values in [0, 255], 1 or 3 channels in; "
                    "probabilities, class index and name out), .keras, TFLite float16 and int8, "
                    "and ONNX; then check parity. Only the formats asked for are written.")
    p.add_argument("model_dir", help="a run directory holding model.keras and meta.json")
    p.add_argument("--format", default=",".join(DEFAULT_FORMATS),
                   help=f"comma-separated, from {','.join(FORMATS)} (default "
                        f"{','.join(DEFAULT_FORMATS)}; onnx, checked with onnxruntime, needs "
                        f"{ONNX_PIP})")
    p.add_argument("--out", help="output folder (default MODEL_DIR/export; for a release, "
                                 "which is read-only, runs/export/NAME)")
    p.add_argument("--force", action="store_true",
                   help="allow writing into a release (its export then no longer matches its card)")
    p.add_argument("--data", help="FER2013 data for int8 calibration (Training) and the parity "
                   "check (PublicTest); default: data/ ($FER2013_DATA), else $FER2013_SRC")
    p.add_argument("--per-class", type=int, default=PER_CLASS,
                   help=f"images per class and split to read (default {PER_CLASS})")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="what the SavedModel computes in (default float32). bfloat16 about "
                        "doubles CPU img/s where the CPU has AVX512_BF16 or AMX, can be slower "
                        "where it has not, and decides some near-ties differently; the parity "
                        "check holds it to the int8 rule. TFLite and ONNX stay float32")
    add_classes_option(p)
    return p


@cli_main
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    formats = parse_formats(args.format)
    rundir.check_run_dir(args.model_dir)
    if args.per_class < 1:
        raise UserError(f"--per-class must be >= 1, got {args.per_class}")
    out = rundir.output_dir(args.model_dir, EXPORT_DIR, args.out, args.force)
    check_out_dir(out)
    import keras

    if keras.backend.backend() != "tensorflow":
        return under_tensorflow("keras_fer.export", argv)
    if formats == ["keras"]:  # a copy of model.keras: nothing to compare
        train = test = None
        source = ""
    else:
        train, test, source = load_images(args.data, args.per_class, args.classes)
        print(f"parity images: {len(test)} from {source}; int8 calibration: {len(train)} images",
              flush=True)
    report = export_run(args.model_dir, out=out, formats=formats, representative=train,
                        parity_images=test, source=source,
                        log=lambda line: print(line, flush=True), force=args.force,
                        precision=args.precision)
    if test is None:
        print("parity: nothing to compare (model.keras copied only)")
        return 0
    lines = []
    for name in ("savedmodel", "onnx"):
        entry = report.get(name, {})
        if "tolerance" in entry:
            lines.append(f"{name} max |dp| = {entry['max_abs_diff']:.2e} "
                         f"(tolerance {entry['tolerance']:.0e})")
        elif "top1_agreement" in entry:  # a bfloat16 SavedModel: the int8 rule
            lines.append(f"{name} ({entry['precision']}) max |dp| = {entry['max_abs_diff']:.2e}, "
                         f"top-1 agreement = {100 * entry['top1_agreement']:.2f}% "
                         f"({100 * entry['clear_agreement']:.2f}% on the "
                         f"{entry['clear_images']} images that are not near-ties)")
    for quant in ("float16", "int8"):
        if f"tflite_{quant}" in report:
            q = report[f"tflite_{quant}"]
            lines.append(f"tflite {quant} top-1 agreement = {100 * q['top1_agreement']:.2f}%")
            if "clear_agreement" in q:
                lines[-1] += (f" ({100 * q['clear_agreement']:.2f}% on the {q['clear_images']} "
                              f"images that are not near-ties)")
    print(f"parity ({report['images']} images): " + "; ".join(lines) if lines
          else "parity: nothing to compare")
    print(f"wrote {out / 'parity.json'}")
    if not report["ok"]:
        print(f"error: parity check failed: {'; '.join(report['failures'])} "
              f"(see {out / 'parity.json'})", file=sys.stderr)
        return 1
    return 0
