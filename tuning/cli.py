"""``python -m tuning``: a planned, resumable, optionally distributed KerasTuner search (``make tune``).

    python -m tuning --data data [--space efficient|blockcnn] [--time-budget 45m|2h|none]
                     [--tuner hyperband] [--epochs 30] [--limit 5000] [--release --best-out DIR]

The first line gives the time budget (without a GPU 45 minutes unless ``--time-budget`` says
otherwise), the expected number of trials and how to ask for more; each epoch of a trial prints
an ETA line from the measured steps per second. The search state lives in ``--dir``
(``runs/tuning/<space>_<tuner>/``); rerunning the same command continues it within a new budget
(KerasTuner ``overwrite=False``): finished trials are kept, an interrupted or cut one runs again.
With ``KERASTUNER_TUNER_ID``/``KERASTUNER_ORACLE_IP``/``KERASTUNER_ORACLE_PORT`` the same command
runs as the chief or a worker of a distributed search (see tuning/README.md). At the end the chief
(or the single process) writes ``trials.csv``, ``trials.png``, retrains the best configuration on
all of Training and evaluates it on PublicTest and PrivateTest; ``--release`` then releases it
(``keras_fer.release``: ten-crop reports, TFLite export, model card) to ``--best-out``.
``--rank K`` added to a finished search's command runs no new trial: K of its trials are
retrained as its best is and evaluated on PublicTest, with the Spearman correlation of their
scores and accuracies (``tuning.rank``).
"""
from __future__ import annotations

import shlex
import sys

from keras_fer.distribute import parse_flag
from keras_fer.errors import ArgumentParser, cli_main
from tuning.options import CPU_DEFAULT, OBJECTIVES, TUNERS
from tuning.spaces import SPACES


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m tuning", description=__doc__.split("\n")[0])
    p.add_argument("--data", help="FER2013 file/folder/zip (default: the config's, else data/)")
    p.add_argument("--config", help="base TrainConfig JSON the search starts from")
    p.add_argument("--space", default="efficient", choices=tuple(SPACES),
                   help="; ".join(f"{s.name}: {s.summary}" for s in SPACES.values()))
    p.add_argument("--time-budget", metavar="DURATION",
                   help="e.g. 45m, 2h, 1h30m, or none; the whole command, retraining included "
                        f"(default: {CPU_DEFAULT // 60}m without a GPU, none with one)")
    p.add_argument("--tuner", choices=TUNERS, default="hyperband")
    p.add_argument("--max-trials", type=int, default=20, help="trials in all (Hyperband: a cap)")
    p.add_argument("--epochs", type=int, help="epochs per trial (Hyperband: the maximum)")
    p.add_argument("--limit", type=int, help="trials train on a stratified subset of Training of "
                   "this many images; the best is retrained on all of it")
    p.add_argument("--val", choices=("PublicTest", "split"), help="validation: never PrivateTest")
    p.add_argument("--objective", choices=OBJECTIVES, default="val_macro_f1")
    p.add_argument("--dir", default="runs/tuning", help="search directory (resumed when present)")
    p.add_argument("--release", action="store_true",
                   help="release the retrained best to --best-out (keras_fer.release)")
    p.add_argument("--best-out", help="where --release puts the best (default: DIR/SPACE_TUNER/best; "
                   "saved_models/best publishes it, with --force over the shipped release)")
    p.add_argument("--force", action="store_true", help="with --release: replace an existing --best-out")
    p.add_argument("--no-retrain", action="store_true", help="stop after the table and plot")
    p.add_argument("--baseline", metavar="RUN_DIR",
                   help="make train's run on this machine (e.g. saved_models/latest, evaluated): "
                        "its PublicTest accuracy is printed beside the retrained best's and "
                        "recorded in search.json")
    p.add_argument("--seed", type=int, help="search seed (default: the config's)")
    p.add_argument("--devices", type=parse_flag, metavar="N|all",
                   help="train each trial data-parallel over N local devices, or all")
    p.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="hold one hyperparameter fixed, e.g. --fix model=vgg13 --fix width=0.25")
    p.add_argument("--rank", type=int, metavar="K",
                   help="run no new trial: retrain K completed trials spread over the scores as "
                        "the best is retrained, evaluate them on PublicTest and write the Spearman "
                        "correlation of scores and accuracies to DIR/SPACE_TUNER/rank.json, rank.md")
    args = p.parse_args(argv)
    # the command as given, for the figures it produces (rank.json)
    args.command = shlex.join(["python", "-m", "tuning", *(sys.argv[1:] if argv is None else argv)])
    return args


@cli_main
def main(argv=None) -> int:
    from keras_fer.durations import glue_values, parse_duration

    args = parse_args(glue_values(argv))
    if args.time_budget is not None:
        parse_duration(args.time_budget)  # before Keras is imported
    from keras_fer.io_utils import check_out_dir

    check_out_dir(args.dir)  # a file, or read-only: at once, not after TensorFlow's start
    from tuning.search import run  # Keras and KerasTuner: --help and a bad option answer without

    return run(args)
