"""``python -m keras_fer.ensemble RUN_DIR RUN_DIR [...] --out DIR``: k runs -> one run directory
whose model averages their probabilities (evaluate, export and predict read it as one model).

    python -m keras_fer.ensemble runs/a runs/b runs/c --out runs/ens
    python -m keras_fer.evaluate runs/ens --data data
    python -m keras_fer.export runs/ens --data data      # ONE SavedModel
"""
from __future__ import annotations

from keras_fer.errors import ArgumentParser, cli_main


def build_parser():
    p = ArgumentParser(prog="python -m keras_fer.ensemble", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (2 or more) with the same classes")
    p.add_argument("--out", required=True, help="the ensemble's run directory")
    p.add_argument("--force", action="store_true",
                   help="replace a run or release at --out, whole (never a folder of other files)")
    return p


@cli_main
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from keras_fer.ensemble.core import check_ensemble_out, write_ensemble

    check_ensemble_out(args.out, args.force, args.runs)  # before Keras is imported

    out = write_ensemble(args.runs, args.out, force=args.force)
    print(f"wrote {out} ({len(args.runs)} members)")
    return 0
