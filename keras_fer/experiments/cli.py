"""``python -m keras_fer.experiments run experiments/NAME.json [--repeats 3] [--limit N]
[--epochs N] [--out DIR] [--data PATH] [--force] [--devices N|all]`` and
``python -m keras_fer.experiments list [DIR]``.

The results of a full run go to experiments/results/NAME/ (committed: replaced only with
--force); a smoke run (--limit or --epochs) goes to runs/experiments/NAME/ and never into
experiments/results/.
"""
from __future__ import annotations

import json
from pathlib import Path

from keras_fer.distribute import parse_flag
from keras_fer.errors import ArgumentParser, UserError, cli_main
from keras_fer.experiments.report import write_results
from keras_fer.experiments.runner import run_experiment
from keras_fer.experiments.spec import check_model_names, list_experiments, load_experiment
from keras_fer.io_utils import check_out_dir

RESULTS = Path("experiments") / "results"
SMOKE_RESULTS = Path("runs") / "experiments"
REPO_RESULTS = Path(__file__).resolve().parents[2] / RESULTS


def build_parser():
    p = ArgumentParser(prog="python -m keras_fer.experiments",
                description="Reproduce published FER2013 experiments")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run one experiment file")
    r.add_argument("file", help="experiments/NAME.json")
    r.add_argument("--repeats", type=int, help="seeds per run (default: the file's)")
    r.add_argument("--limit", type=int, help="stratified subset of Training (CPU smoke run)")
    r.add_argument("--epochs", type=int, help="override every run's epochs")
    r.add_argument("--data", help="FER2013 file/folder/zip (default: the file's base.data)")
    r.add_argument("--out", help=f"results folder (default: {RESULTS}/NAME; with --limit or "
                                 f"--epochs {SMOKE_RESULTS}/NAME)")
    r.add_argument("--force", action="store_true",
                   help="replace committed results, and finished runs trained with other settings")
    r.add_argument("--runs", help="comma-separated run names: train only these; the others "
                                  "keep the figures measured before, and one not measured is "
                                  "left out of the table (default: train all)")
    r.add_argument("--devices", type=parse_flag, metavar="N|all",
                   help="train every run data-parallel over N local devices, or all (default: "
                        "the file's, else 1); a run finished on other devices is reused")
    r.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="a TrainConfig setting for every run, e.g. --set 'model_args={\"image_size\": 64}'")
    ls = sub.add_parser("list", help="list the experiment files")
    ls.add_argument("dir", nargs="?", default="experiments")
    return p


def parse_settings(items) -> dict:
    """``KEY=VALUE`` strings -> {key: JSON value (a bare string when not JSON)}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def results_folder(exp, args, settings) -> Path:
    """Where the results go. A smoke run (``--limit``/``--epochs``, or those set with ``--set``)
    never writes into experiments/results/; a full run replaces the results committed there
    only with ``--force``."""
    smoke = (args.limit is not None or args.epochs is not None
             or bool({"limit", "epochs"} & set(settings)))
    out = Path(args.out) if args.out else (SMOKE_RESULTS if smoke else RESULTS) / exp.name
    committed = any(_inside(out, root) for root in (RESULTS, REPO_RESULTS))
    if committed and smoke:
        raise UserError(f"{out}: a smoke run (--limit/--epochs) never writes into {RESULTS}/, "
                        f"where the committed results are: leave --out out (default "
                        f"{SMOKE_RESULTS}/{exp.name}) or choose another folder")
    if committed and (out / "results.json").is_file() and not args.force:
        raise UserError(f"{out}: committed results are there; pass --force to replace them")
    return check_out_dir(out)


def _inside(path, root) -> bool:
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def runs_to_train(exp, names) -> list | None:
    """``--runs``: the run names to train, checked against the file; None: all of them."""
    if not names:
        return None
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {r.name for r in exp.runs}
    for n in wanted:
        if n not in known:
            raise UserError(f"--runs: {exp.path} has no run {n!r} (runs: {', '.join(sorted(known))})")
    return wanted


@cli_main
def main(argv=None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "list":
        for exp in list_experiments(args.dir):
            print(f"{exp.path.name:28s} {len(exp.runs):3d} runs x {exp.repeats}  {exp.description}")
        return 0
    for key in ("repeats", "epochs"):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            raise UserError(f"--{key} must be >= 1, got {getattr(args, key)}")
    exp = load_experiment(args.file, check_models=False)  # registered names need Keras: below
    train_only = runs_to_train(exp, args.runs)
    settings = parse_settings(args.set)
    if args.data:
        settings["data"] = args.data
    if args.devices is not None:
        settings["devices"] = args.devices
    for run in exp.runs:
        run.config = run.config.replace(**settings)
    out = results_folder(exp, args, settings)  # its mistakes before TensorFlow starts
    check_model_names(exp)
    data = None
    if args.data:
        from keras_fer.data import load

        data = load(args.data, classes=settings.get("classes", exp.base.classes))
    outcome = run_experiment(exp, out=out, data=data, repeats=args.repeats, limit=args.limit,
                             epochs=args.epochs, force=args.force, train_only=train_only)
    paths = write_results(exp, outcome, out, argv)
    print(paths["md"].read_text(encoding="utf-8"))
    print(f"wrote {out}/ (table.csv, table.md, curves.png, commands.txt, configs/, index.html)")
    return 0
