"""``python -m keras_fer.evaluate RUN_DIR [--data PATH] [--split A,B] [--tta MODE[,MODE]] [--out DIR]
[--force] [--json] [--classes CODING] [--drop-classes A,B]``."""
from __future__ import annotations

import json
import sys

from keras_fer.errors import ArgumentParser, UserError, cli_main, positive_int


def build_parser():
    from keras_fer.config import TTA_MODES
    from keras_fer.data.classes import add_classes_option
    from keras_fer.evaluate.core import SPLITS

    p = ArgumentParser(prog="python -m keras_fer.evaluate",
                description="Evaluate a run directory on FER2013 splits or a labelled folder.")
    p.add_argument("run_dir", help="run directory holding model.keras")
    p.add_argument("--data", help="FER2013 file/folder/zip, or a labelled class-subfolder folder "
                                  "(default: the run's config data)")
    p.add_argument("--split", default=",".join(SPLITS),
                   help=f"comma-separated splits (default {','.join(SPLITS)})")
    p.add_argument("--tta", default="none", metavar="MODE[,MODE]",
                   help=f"test-time augmentation: {', '.join(TTA_MODES)}, or several, comma-"
                        "separated (e.g. none,tencrop: each its own report, in one process)")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--out", help="folder for report.json and the confusion PNGs (default "
                                 "RUN_DIR/eval; for a release, which is read-only, runs/eval/NAME)")
    p.add_argument("--force", action="store_true",
                   help="allow writing into a release (its reports then no longer match its card)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_classes_option(p)
    p.add_argument("--drop-classes", default="", metavar="A,B",
                   help="leave out the images of these classes (e.g. contempt, which a "
                        "FER2013 model does not have)")
    return p


@cli_main
def main(argv=None) -> int:
    from keras_fer.evaluate.core import EVAL_DIR, evaluate_run, report_name
    from keras_fer.io_utils import check_out_dir
    from keras_fer.rundir import check_run_dir, output_dir

    args = build_parser().parse_args(argv)
    check_run_dir(args.run_dir)
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    if not splits:
        raise UserError(f"--split: no split named in {args.split!r}")
    modes = tta_modes(args.tta)
    if args.json and len(modes) > 1:
        raise UserError(f"--json prints one report: give one --tta mode, not {args.tta!r}")
    out = output_dir(args.run_dir, EVAL_DIR, args.out, args.force)
    check_out_dir(out)
    drop = [c.strip() for c in args.drop_classes.split(",") if c.strip()]
    for tta in modes:
        report = evaluate_run(args.run_dir, data=args.data, splits=splits, tta=tta,
                              batch_size=args.batch_size, verbose=not args.json, out=out,
                              force=args.force, classes=args.classes, drop_classes=drop)
        for name, n in report.get("dropped", {}).items():
            print(f"--drop-classes: left out {n} {name} image(s)", file=sys.stderr)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"wrote {out / report_name(tta)}")
    return 0


def tta_modes(text) -> list:
    """``--tta``'s modes in order, each once; UserError naming an unknown one."""
    from keras_fer.config import TTA_MODES

    modes = list(dict.fromkeys(m.strip() for m in str(text).split(",") if m.strip()))
    unknown = [m for m in modes if m not in TTA_MODES]
    if not modes or unknown:
        raise UserError(f"--tta: unknown mode {(unknown or [text])[0]!r} (known: "
                        f"{', '.join(TTA_MODES)}; several: comma-separated)")
    return modes
