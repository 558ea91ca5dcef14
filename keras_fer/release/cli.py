"""``python -m keras_fer.release RUN_DIR [--out saved_models/best] [--data PATH] [--force]``;
``python -m keras_fer.release RELEASE_DIR --card-only --force`` renders a release's card again."""
from __future__ import annotations

import sys
from pathlib import Path

from keras_fer.errors import ArgumentParser, UserError, UserFileNotFound, cli_main


def build_parser():
    p = ArgumentParser(prog="python -m keras_fer.release",
                       description="Release a trained run: evaluation with and without test-time "
                                   "augmentation, confusion matrices, SavedModel + TFLite export "
                                   "with a parity check, and a model card (README.md).")
    p.add_argument("run_dir", help="a trained run directory (python -m keras_fer.train); with "
                                   "--card-only, a release")
    p.add_argument("--out", help="release folder (default saved_models/best)")
    p.add_argument("--card-only", action="store_true",
                   help="render the model card (README.md) of the release RUN_DIR again from its "
                        "own files, keeping its Notes, and change nothing else; needs --force")
    p.add_argument("--data",
                   help="FER2013 with PublicTest and PrivateTest (default: the run's data, else data/)")
    p.add_argument("--tta", default="tencrop", choices=("flip", "tencrop"),
                   help="test-time augmentation of the second report (default tencrop)")
    p.add_argument("--recipe", help="the recipe file the run was trained from (for the card's commands)")
    p.add_argument("--notes", help="a markdown file added to the card under Notes")
    p.add_argument("--force", action="store_true",
                   help="replace an existing release (never anything else); release an "
                        "unfinished run, or an export that fails its parity check (the model "
                        "card then says so at its top)")
    return p


def read_notes(args):
    """The --notes file's text (None without it); a missing --notes or --recipe file is an error."""
    if args.recipe and not Path(args.recipe).is_file():
        raise UserFileNotFound(f"{args.recipe}: no such recipe file")
    if not args.notes:
        return None
    if not Path(args.notes).is_file():
        raise UserFileNotFound(f"{args.notes}: no such notes file")
    return Path(args.notes).read_text(encoding="utf-8")


@cli_main
def main(argv=None) -> int:
    from keras_fer import rundir
    from keras_fer.io_utils import check_out_dir
    from keras_fer.release.core import check_finished, check_out, make_release, rerender_card

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    notes = read_notes(args)
    if args.card_only:  # no Keras: the card is rendered from the release's JSON files
        if args.out or args.data:
            raise UserError("--card-only renders RUN_DIR's own card in place from its own "
                            "files; --out and --data do not apply")
        rerender_card(args.run_dir, force=args.force, recipe=args.recipe, notes=notes)
        return 0
    args.out = args.out or "saved_models/best"
    rundir.check_run_dir(args.run_dir)
    check_out_dir(args.out)
    check_out(args.out, args.force, args.run_dir)  # fail before minutes of evaluation
    check_finished(args.run_dir, args.force)
    import keras

    if keras.backend.backend() != "tensorflow":
        from keras_fer.devices import under_tensorflow

        return under_tensorflow("keras_fer.release", argv)
    make_release(args.run_dir, args.out, data=args.data, tta=args.tta, force=args.force,
                 recipe=args.recipe, notes=notes, log=lambda line: print(line, flush=True))
    return 0
