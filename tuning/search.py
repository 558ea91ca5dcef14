"""``python -m tuning``: a resumable, optionally distributed KerasTuner search (``make tune``).

    python -m tuning --data data --tuner hyperband --epochs 30 [--best-out saved_models/best --force]

The search state lives in ``--dir`` (``runs/tuning/<tuner>/``); rerunning the same command
continues with the trials already done (KerasTuner ``overwrite=False``). With the environment
variables ``KERASTUNER_TUNER_ID``/``KERASTUNER_ORACLE_IP``/``KERASTUNER_ORACLE_PORT`` the same
command runs as the chief (``KERASTUNER_TUNER_ID=chief``) or as a worker of a distributed search
(see tuning/README.md). At the end the chief (or the single process) writes ``trials.csv``,
``trials.png``, and retrains the best configuration on Training with ``keras_fer.train.run``
into ``--best-out`` (default ``--dir/<tuner>/best``) as a release (``keras_fer.release``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from keras_fer.config import TrainConfig, load_config
from keras_fer.distribute import make_plan, parse_flag
from keras_fer.errors import UserError, cli_main
from keras_fer.io_utils import write_json
from tuning.hypermodel import OBJECTIVES, FERHyperModel, declare
from tuning.report import trials_table, write_report

TUNERS = ("hyperband", "bayesian", "random")
TIMING_FILE = "timing.json"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m tuning", description=__doc__.split("\n")[0])
    p.add_argument("--data", help="FER2013 file/folder/zip (default: the config's, else data/)")
    p.add_argument("--config", help="base TrainConfig JSON the search starts from")
    p.add_argument("--tuner", choices=TUNERS, default="hyperband")
    p.add_argument("--max-trials", type=int, default=20, help="trials in all (Hyperband: a cap)")
    p.add_argument("--epochs", type=int, help="epochs per trial (Hyperband: the maximum)")
    p.add_argument("--limit", type=int, help="a stratified subset of Training (smoke runs)")
    p.add_argument("--val", choices=("PublicTest", "split"), help="validation: never PrivateTest")
    p.add_argument("--objective", choices=OBJECTIVES, default="val_macro_f1")
    p.add_argument("--dir", default="runs/tuning", help="search directory (resumed when present)")
    p.add_argument("--best-out", help="where the retrained best is released (default: DIR/TUNER/best; "
                   "saved_models/best publishes it, with --force over the shipped release)")
    p.add_argument("--force", action="store_true", help="replace an existing --best-out")
    p.add_argument("--no-retrain", action="store_true", help="stop after the table and plot")
    p.add_argument("--seed", type=int, help="search seed (default: the config's)")
    p.add_argument("--devices", type=parse_flag, metavar="N|all",
                   help="train each trial data-parallel over N local devices, or all")
    p.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="hold one hyperparameter fixed, e.g. --fix norm=batch --fix depth=7")
    return p.parse_args(argv)


def base_config(args) -> TrainConfig:
    cfg = load_config(args.config) if args.config else TrainConfig()
    overrides = {k: v for k, v in (("data", args.data), ("limit", args.limit), ("epochs", args.epochs),
                                   ("val", args.val), ("seed", args.seed),
                                   ("devices", args.devices)) if v is not None}
    overrides["monitor"] = args.objective
    if args.max_trials < 1:
        raise UserError(f"--max-trials must be >= 1, got {args.max_trials}")
    return cfg.replace(**overrides)


def role() -> str:
    """"single", "chief" or "worker" from KerasTuner's distribution environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    for var in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if var not in os.environ:
            raise UserError(f"KERASTUNER_ORACLE_IP is set but {var} is not (see tuning/README.md)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def _timed(tuner_cls):
    """The tuner class, also recording each trial's wall time and epochs in its trial folder."""


    class Timed(tuner_cls):
        def run_trial(self, trial, *args, **kwargs):
            start = time.perf_counter()
            results = super().run_trial(trial, *args, **kwargs)
            epochs = sum(len(getattr(r, "epoch", ())) for r in results)
            seconds = round(time.perf_counter() - start, 3)
            write_json(Path(self.get_trial_dir(trial.trial_id)) / TIMING_FILE,
                       {"seconds": seconds, "epochs": epochs, "tuner_id": self.tuner_id})
            print(f"{self.tuner_id}: trial {trial.trial_id} trained {epochs} epoch(s) in {seconds:.1f} s",
                  flush=True)
            return results

    Timed.__name__ = tuner_cls.__name__
    return Timed


def fixed_hyperparameters(items):
    """``NAME=VALUE`` strings -> a ``keras_tuner.HyperParameters`` holding them ``Fixed``."""
    import keras_tuner as kt

    known = declare(kt.HyperParameters())
    hp = kt.HyperParameters()
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in known:
            raise UserError(f"--fix {item!r}: expected NAME=VALUE with NAME one of {', '.join(known)}")
        try:
            value = type(known[name])(json.loads(text) if name not in ("norm", "optimizer", "augment") else text)
        except (ValueError, TypeError):
            raise UserError(f"--fix {item!r}: {text!r} is not a {type(known[name]).__name__}") from None
        hp.Fixed(name, value)
    return hp


def make_tuner(kind, hypermodel, objective, max_trials, epochs, directory, seed=0, fixed=None):
    """A KerasTuner tuner of ``kind`` over ``hypermodel``; resumes ``directory/kind`` if present.
    ``fixed``: a HyperParameters of values held fixed (``--fix``)."""
    import keras_tuner as kt

    obj = kt.Objective(objective, "max")
    common = dict(objective=obj, seed=seed or None, directory=str(directory), project_name=kind,
                  overwrite=False, max_consecutive_failed_trials=3, hyperparameters=fixed)
    if kind == "hyperband":
        tuner = _timed(kt.Hyperband)(hypermodel, max_epochs=epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # Hyperband has no max_trials argument: a cap
    elif kind == "bayesian":
        tuner = _timed(kt.BayesianOptimization)(hypermodel, max_trials=max_trials, **common)
    elif kind == "random":
        tuner = _timed(kt.RandomSearch)(hypermodel, max_trials=max_trials, **common)
    else:
        raise UserError(f"--tuner must be one of {TUNERS}, got {kind!r}")
    return tuner


def search_arrays(cfg: TrainConfig, data):
    """((x, y), (vx, vy), classes) of the search, exactly as ``keras_fer.train`` selects them:
    Training (``limit``-ed) and PublicTest or a stratified split of Training; never PrivateTest."""
    from keras_fer.train import select_data

    return select_data(cfg, data)


def serve_as_chief(tuner, poll_s=0.5):
    """Serve the oracle to the workers (KerasTuner's ``search`` on the chief) until every
    worker has been told to stop and no trial is running.

    KerasTuner's own chief loop checks that condition only every 20 seconds once the first
    worker is stopped; the same condition is checked here every ``poll_s`` (the server thread
    is a daemon: it ends with the process).
    """
    import threading

    server = threading.Thread(target=tuner.search, name="kerastuner-chief", daemon=True)
    server.start()
    oracle = tuner.oracle
    while server.is_alive():
        server.join(poll_s)
        if oracle.trials and not oracle.ongoing_trials and not oracle.tuner_ids:
            break


def retrain_best(tuner, hypermodel, data, best_out: Path, force: bool) -> Path:
    """Retrain the best trial's config on Training into SEARCH_DIR/best_run, then release it to
    ``best_out`` (``keras_fer.release``: reports, export, model card; an old one is replaced
    whole, and only with ``force``)."""
    from keras_fer.release import check_out
    from keras_fer.train import run

    best = tuner.oracle.get_best_trials(1)
    if not best:
        raise UserError(f"{tuner.project_dir}: no completed trial to retrain")
    trial = best[0]
    run_dir = Path(tuner.project_dir) / "best_run"
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = hypermodel.config_for(trial.hyperparameters).replace(out=str(run_dir))
    print(f"retraining trial {trial.trial_id} (score {trial.score:.4f}) on Training -> {run_dir}")
    run(cfg, data)
    search = {"trial_id": trial.trial_id, "score": trial.score,
              "objective": tuner.oracle.objective.name,
              "hyperparameters": trial.hyperparameters.values, "search_dir": str(tuner.project_dir)}
    write_json(run_dir / "search.json", search)
    check_out(best_out, force)  # again: another process may have released one meanwhile
    notes = (f"Chosen by a KerasTuner search ({tuner.project_dir}): trial {trial.trial_id}, "
             f"{search['objective']} {trial.score:.4f} on the validation split; "
             f"its hyperparameters are in `search.json`.")
    release_run(run_dir, best_out, cfg.data, force, notes)
    return best_out


def release_run(run_dir: Path, best_out: Path, data, force: bool, notes: str) -> None:
    """``keras_fer.release`` in this process on TensorFlow, else in a TensorFlow subprocess;
    without TensorFlow (the JAX-only GPU machine) the run stays and the command is printed."""
    import keras

    from keras_fer.devices import tensorflow_installed
    from keras_fer.release import make_release

    if keras.backend.backend() == "tensorflow":
        make_release(run_dir, best_out, data=data, force=force, notes=notes)
        return
    notes_file = run_dir / "release_notes.md"
    notes_file.write_text(notes + "\n")
    argv = [str(run_dir), "--out", str(best_out), "--notes", str(notes_file)]
    argv += (["--data", str(data)] if data else []) + (["--force"] if force else [])
    if not tensorflow_installed():
        print(f"TensorFlow is not installed here, so the release (export) waits: on a machine "
              f"with it run  python -m keras_fer.release {' '.join(argv)}")
        return
    from keras_fer.export.cli import under_tensorflow

    if under_tensorflow("keras_fer.release", argv) != 0:
        raise UserError(f"{run_dir}: releasing to {best_out} failed (see above)")


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = base_config(args)
    who = role()
    best_out = Path(args.best_out) if args.best_out else Path(args.dir) / args.tuner / "best"
    if who != "worker" and not args.no_retrain:
        from keras_fer.release import check_out

        check_out(best_out, args.force)  # fail before hours of search, not after
    plan = make_plan(cfg.devices)
    if plan.processes > 1:
        raise UserError("tuning on several hosts: run KerasTuner's workers (tuning/README.md)")
    plan.check_batch(cfg.batch_size)
    from keras_fer.data import load

    data = load(cfg.data, classes=cfg.classes)
    (x, y), (xv, yv), classes = search_arrays(cfg, data)
    x, y = plan.trim(x, y, cfg.seed)
    hypermodel = FERHyperModel(cfg, num_classes=len(classes), train_labels=y)
    tuner = make_tuner(args.tuner, hypermodel, args.objective, args.max_trials, cfg.epochs,
                       args.dir, seed=cfg.seed, fixed=fixed_hyperparameters(args.fix))
    print(f"search: {args.tuner} ({who}), at most {args.max_trials} trials in {tuner.project_dir}, "
          f"{len(x)} training / {len(xv)} validation images ({cfg.val}), {plan.describe()}")
    # the trainer's model takes (images, labels): the labels feed the models' auxiliary losses
    fit = ((x[..., None], y), y)
    xv, yv, weights, _ = plan.val_arrays(xv, yv)
    val = ((xv[..., None], yv), yv) + (() if weights is None else (weights,))
    if who == "chief":
        serve_as_chief(tuner)
    else:
        with plan.scope():
            tuner.search(*fit, validation_data=val, epochs=cfg.epochs)
    if who == "worker":
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']}: search finished")
        return 0
    table = trials_table(tuner.oracle.trials.values(), Path(tuner.project_dir), TIMING_FILE)
    out_dir = Path(tuner.project_dir)
    write_report(table, out_dir, args.objective)
    print(table.to_string(index=False))
    print(f"wrote {out_dir / 'trials.csv'} and {out_dir / 'trials.png'}")
    if not args.no_retrain:
        retrain_best(tuner, hypermodel, data, best_out, args.force)
        print(f"best model: {best_out} (report: {best_out / 'eval' / 'report.json'})")
    return 0

