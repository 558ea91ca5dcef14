"""``python -m keras_fer.evaluate RUN_DIR [--data PATH] [--split A,B] [--tta MODE] [--json]``."""
from __future__ import annotations

import json

from keras_fer.errors import ArgumentParser, UserError, cli_main, positive_int


def build_parser():
    from keras_fer.evaluate import TTA_MODES

    p = ArgumentParser(prog="python -m keras_fer.evaluate",
                description="Evaluate a run directory on FER2013 splits or a labelled folder.")
    p.add_argument("run_dir", help="run directory holding model.keras")
    p.add_argument("--data", help="FER2013 file/folder/zip, or a labelled class-subfolder folder "
                                  "(default: the run's config data)")
    p.add_argument("--split", default="PublicTest",
                   help="comma-separated splits (default PublicTest)")
    p.add_argument("--tta", default="none", choices=TTA_MODES, help="test-time augmentation")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


@cli_main
def main(argv=None) -> int:
    from keras_fer.evaluate import evaluate_run, report_path
    from keras_fer.io_utils import check_out_dir
    from keras_fer.rundir import check_run_dir

    args = build_parser().parse_args(argv)
    check_run_dir(args.run_dir)
    check_out_dir(report_path(args.run_dir, args.tta).parent)
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    if not splits:
        raise UserError(f"--split: no split named in {args.split!r}")
    report = evaluate_run(args.run_dir, data=args.data, splits=splits, tta=args.tta,
                          batch_size=args.batch_size, verbose=not args.json)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"wrote {report_path(args.run_dir, args.tta)}")
    return 0
