"""``python -m keras_fer.train``: train one run (or k folds) into a run directory.

    python -m keras_fer.train --model baseline --data data --epochs 10 --out runs/base
    python -m keras_fer.train --config run.json --lr 0.05          # flags override the file
    python -m keras_fer.train --auto --data data --out saved_models/latest
        # recipes/best.json when the backend sees a GPU, else recipes/cpu.json
    KERAS_BACKEND=jax python -m keras_fer.train --auto --devices all   # data-parallel, all GPUs

Run the same command again after an interruption: it resumes from the last finished epoch.
A finished run or a release (saved_models/best) in --out is replaced only with --force.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from keras_fer.config import INIT_LAYERS
from keras_fer.distribute import parse_flag
from keras_fer.errors import ArgumentParser, UserError, cli_main, finite_float


def build_parser():
    from keras_fer.data.classes import add_classes_option

    p = ArgumentParser(prog="python -m keras_fer.train", description=__doc__.split("\n")[0],
                       verbose_option=False)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", help="TrainConfig JSON file (flags override it)")
    src.add_argument("--auto", action="store_true",
                     help="recipes/best.json with a GPU, recipes/cpu.json without")
    p.add_argument("--model", help="registry name or block-CNN .json file")
    p.add_argument("--model-args", type=_json_arg("--model-args"), help="JSON object of overrides")
    p.add_argument("--data", help="FER2013 csv/zip/folder (default: data/)")
    add_classes_option(p)
    p.add_argument("--out", help="run directory (default runs/<model>-<time>)")
    p.add_argument("--force", action="store_true",
                   help="replace a finished run or a release in --out (else an error)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=finite_float, help="learning rate")
    p.add_argument("--optimizer", help="sgd | adam | adamw | rmsprop | adamax | adagrad")
    p.add_argument("--weight-decay", type=finite_float,
                   help="Keras' decoupled weight decay; for PyTorch's SGD weight_decay use the "
                        "loss setting l2")
    p.add_argument("--schedule", type=_json_arg("--schedule"),
                   help='JSON, e.g. \'{"name": "step", "every": 20, "factor": 0.1}\'')
    p.add_argument("--loss", type=_json_arg("--loss"),
                   help='JSON, e.g. \'{"name": "crossentropy", "label_smoothing": 0.1}\'')
    p.add_argument("--augment", type=_json_arg("--augment"),
                   help='JSON object or file, e.g. \'{"flip": true, "crop": 44}\'')
    p.add_argument("--ema", type=float, help="EMA momentum of the weights, e.g. 0.999")
    p.add_argument("--teacher", metavar="RUN_DIR",
                   help="distil from this run or ensemble directory of ours (config key distill)")
    p.add_argument("--init-from", metavar="RUN_DIR",
                   help="fine-tune: start from this run's weights (config key init_from)")
    p.add_argument("--init-layers", choices=INIT_LAYERS,
                   help="with --init-from: all its weights (the same model; the default), "
                        "the layers this model shares with it by name and shape (a smaller "
                        "student from a larger run's first stages), or channels: its layers "
                        "mapped to this model's widths (pruned narrower, or widened)")
    p.add_argument("--limit", type=int, help="a stratified subset of Training of N images")
    p.add_argument("--folds", type=int, help="stratified k-fold cross-validation")
    p.add_argument("--val", choices=("PublicTest", "split"))
    p.add_argument("--monitor", help="val_accuracy | val_macro_f1 | val_average_accuracy | val_loss")
    p.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    p.add_argument("--time-budget", metavar="DURATION",
                   help="train as many epochs as fit in this wall time (45m, 2h50m; at most "
                        "--epochs; none lifts a recipe's): fixed after epoch 2, the schedule "
                        "spans them")
    p.add_argument("--mixed-precision", action="store_true", default=None)
    p.add_argument("--devices", type=parse_flag, metavar="N|all",
                   help="data-parallel over N local devices, or all of them (default 1); "
                        "--batch-size is the global batch, split across them")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", default=None)
    p.add_argument("--seed", type=int)
    p.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="Keras' progress output; given at all, it also shows TensorFlow's "
                        "start-up log lines")
    return p


def _json_arg(flag):
    def parse(text):
        path = Path(text)
        if not text.lstrip().startswith("{") and path.suffix == ".json":
            from keras_fer.io_utils import read_json

            value = read_json(path)
        else:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise UserError(f"{flag}: invalid JSON {text!r}: {e.msg}") from None
        if not isinstance(value, dict):
            raise UserError(f"{flag}: expected a JSON object, got {text!r}")
        return value

    return parse


def accelerator_available() -> bool:
    """Whether the Keras backend sees a GPU."""
    from keras_fer.devices import accelerator_name

    return accelerator_name() is not None


def describe(cfg) -> str:
    opt = cfg.optimizer
    aug = ", ".join(k for k, v in cfg.augment.items() if v) or "no augmentation"
    epochs = (f"{cfg.epochs} epochs" if cfg.time_budget is None
              else f"at most {cfg.epochs} epochs within a {cfg.time_budget} budget")
    return (f"{cfg.model}, {epochs}, batch {cfg.batch_size}, {opt['name']} lr "
            f"{opt.get('learning_rate')}, {cfg.schedule['name']} schedule, augment: {aug}")


def resolve_config(args):
    from keras_fer.config import TrainConfig, load_config

    if args.config:
        cfg = load_config(args.config)
    elif args.auto:
        from keras_fer.resources import recipe

        found = accelerator_available()
        path = recipe("best" if found else "cpu")  # the checkout's, else the installed package's
        cfg = load_config(path)
        print(f"{'accelerator found' if found else 'no accelerator found'}: training "
              f"{path.parent.name}/{path.name} ({describe(cfg)})", flush=True)
    else:
        cfg = TrainConfig()
    over = {k: getattr(args, k) for k in ("model", "model_args", "data", "classes", "out",
                                          "epochs", "batch_size", "schedule", "loss", "augment",
                                          "limit", "folds", "val", "monitor", "early_stopping",
                                          "mixed_precision", "tensorboard", "seed", "verbose",
                                          "ema", "devices", "init_from", "init_layers",
                                          "time_budget")
            if getattr(args, k) is not None}
    if args.teacher is not None:
        over["distill"] = {**cfg.distill, "teacher": args.teacher}
    if args.model is not None and args.model != cfg.model and args.model_args is None:
        over["model_args"] = {}  # the base's overrides belong to the base's model
    opt = dict(cfg.optimizer)
    if args.optimizer is not None:
        opt = {"name": args.optimizer.lower(), "learning_rate": opt.get("learning_rate", 0.01),
               **({"weight_decay": opt["weight_decay"]} if "weight_decay" in opt else {})}
    if args.lr is not None:
        opt["learning_rate"] = args.lr
    if args.weight_decay is not None:
        opt["weight_decay"] = args.weight_decay
    over["optimizer"] = opt
    from keras_fer.devices import native_precision

    cfg, note = native_precision(cfg.replace(**over))  # before a resumed run's settings are compared
    if note:
        print(note, flush=True)
    return cfg


@cli_main
def main(argv=None) -> int:
    from keras_fer.durations import glue_values

    args = build_parser().parse_args(glue_values(argv))
    cfg = resolve_config(args)
    if cfg.out:  # a bad --out fails before TensorFlow is imported and the data read
        from keras_fer import rundir

        rundir.claim_out(cfg.out, args.force, config=cfg.to_dict(), dry_run=True)
    from keras_fer.data import load
    from keras_fer.distribute import join_hosts
    from keras_fer.durations import check_budget

    check_budget(cfg, "overrides")  # before the data is read
    join_hosts()  # a cluster's hosts join before anything else (a no-op without one)
    data = load(cfg.data, classes=cfg.classes)  # a bad data file fails before TensorFlow starts
    from keras_fer.budget import train_within
    from keras_fer.train.core import TrainingFailed

    if cfg.mixed_precision or cfg.verbose:
        import keras

        print(f"backend {keras.backend.backend()}, keras {keras.__version__}", flush=True)
    try:
        out = train_within(cfg, data, force=args.force)  # keras_fer.train.run, within cfg.time_budget
    except TrainingFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"run directory: {out}")
    return 0
