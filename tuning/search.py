"""The search behind ``python -m tuning`` (``tuning.cli`` parses its options): ``run(args)``
plans the time budget, runs the KerasTuner search (single, chief or worker), then writes the
trials' table and plot, retrains the best and releases it if asked (``finish``).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

from keras_fer.config import TrainConfig
from keras_fer.distribute import make_plan
from keras_fer.durations import parse_duration
from keras_fer.errors import UserError
from keras_fer.io_utils import check_out_dir, read_json
from tuning import budget as time_budget
from tuning import fidelity
from tuning.budget import Budget, BudgetSpent, Estimator, calibrate
from tuning.hypermodel import FERHyperModel
from tuning.options import CPU_DEFAULT, TUNERS
from tuning.plan import TIMING_FILE, SearchPlan, budgeted, first_lines, read_timings, trials_done
from tuning.report import trials_table, write_report
from tuning.spaces import get_space
from tuning.state import RESUME_FREE, SETTINGS_FILE, check_settings, check_state_files

# a recipe's setting a search sets itself: the budget (its own; the retraining gets the recipe's)
RECIPE_FREE = ("time_budget",)

__all__ = ["run", "make_tuner", "TIMING_FILE"]


def from_recipe(args, space, cpu: bool) -> bool:
    """Whether the search starts from the space's ``cpu_recipe`` (make train's): a search sized
    for a CPU, without ``--config``."""
    return cpu and not args.config and space.cpu_recipe is not None


def check_options(args) -> None:
    """A UserError for options that do not go together, before anything is read."""
    if args.max_trials < 1:
        raise UserError(f"--max-trials must be >= 1, got {args.max_trials}")
    if args.release and args.no_retrain:
        raise UserError("--release needs the retrained best: drop --no-retrain")
    if args.rank is not None and args.rank < 2:
        raise UserError(f"--rank {args.rank}: a rank correlation needs at least 2 trials (6 or "
                        "more to mean something)")
    if args.rank is not None and args.release:
        raise UserError("--rank retrains trials to rank them and releases none: drop --release")


def base_config(args, space, recipe=False) -> TrainConfig:
    """TrainConfig defaults <- the space's fixed settings <- ``--config`` (``recipe``: the
    space's ``cpu_recipe`` instead, ``from_recipe``) <- the options. The trials monitor the
    objective; a recipe's retraining keeps the recipe's monitor, as ``make train``."""
    file = read_json(args.config) if args.config else {}
    if recipe:  # its time budget is make train's, which the search's retraining gets
        from keras_fer.resources import recipe as recipe_path

        file = {k: v for k, v in read_json(recipe_path(space.cpu_recipe)).items()
                if k not in RECIPE_FREE}
    cfg = space.base(file, source=args.config or "config")
    if cfg.time_budget is not None:  # each trial's epochs are the search's to set
        raise UserError(f"{args.config}: time_budget is a setting of one training; a search "
                        "has its own --time-budget")
    overrides = {k: v for k, v in (("data", args.data), ("limit", args.limit), ("epochs", args.epochs),
                                   ("val", args.val), ("seed", args.seed),
                                   ("devices", args.devices)) if v is not None}
    if not recipe:
        overrides["monitor"] = args.objective
    return cfg.replace(**overrides)


def budget_seconds(args, gpu=None):
    """(seconds or None, why): ``--time-budget``, else 45 min without a GPU (``gpu``: the
    accelerator's name, None without), else none."""
    if args.time_budget is not None:
        return parse_duration(args.time_budget), f"--time-budget {args.time_budget}"
    if gpu is None:
        return float(CPU_DEFAULT), "the default without a GPU"
    return None, f"the default with a GPU, {gpu}"


def role() -> str:
    """"single", "chief" or "worker" from KerasTuner's distribution environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    for var in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if var not in os.environ:
            raise UserError(f"KERASTUNER_ORACLE_IP is set but {var} is not (see tuning/README.md)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def fixed_hyperparameters(space, items):
    """``NAME=VALUE`` strings -> a ``keras_tuner.HyperParameters`` holding them ``Fixed``."""
    import keras_tuner as kt

    known = {p.name: p for p in space.hyperparameters()}
    hp = kt.HyperParameters()
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in known:
            raise UserError(f"--fix {item!r}: expected NAME=VALUE with NAME one of {', '.join(known)}")
        kind = type(known[name].default)
        try:
            if kind is bool:
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                value = text.lower() == "true"
            else:
                value = kind(json.loads(text) if kind in (int, float) else text)
        except (ValueError, TypeError):
            raise UserError(f"--fix {item!r}: {text!r} is not a {kind.__name__}") from None
        values[name] = value
    # a conditional one is held under its own condition (KerasTuner keeps one value per name and
    # condition: an unconditional Fixed beside the space's conditional Choice was overwritten
    # by it, so `--fix width=0.25` trained x0.75); its parents go in first, as the space declares
    # them unless they are fixed too
    for name, value in sorted(values.items(), key=lambda kv: len(known[kv[0]].conditions)):
        with contextlib.ExitStack() as scopes:
            for condition in known[name].conditions:
                if condition.name not in hp:
                    hp.merge([known[condition.name]])
                scopes.enter_context(hp.conditional_scope(condition.name, condition.values))
            hp.Fixed(name, value)
    return hp


def make_tuner(kind, hypermodel, objective, max_trials, epochs, directory, seed=0, fixed=None,
               project_name=None, min_epochs=1, keep_defaults=False):
    """A KerasTuner tuner of ``kind`` over ``hypermodel`` (``tuning.plan.budgeted``); resumes
    ``directory/project_name`` (default ``kind``) if present. ``fixed``: a HyperParameters of
    values held fixed (``--fix``); ``min_epochs``: Hyperband's shortest trial; ``keep_defaults``:
    Hyperband continues the space's defaults in every round (``tuning.incumbent``)."""
    import keras_tuner as kt

    obj = kt.Objective(objective, "max")
    common = dict(objective=obj, seed=seed or None, directory=str(directory),
                  project_name=project_name or kind, overwrite=False,
                  max_consecutive_failed_trials=3, hyperparameters=fixed)
    if kind == "hyperband":
        from tuning.incumbent import IncumbentHyperband

        cls = IncumbentHyperband if keep_defaults else kt.Hyperband
        tuner = budgeted(cls)(hypermodel, max_epochs=epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # Hyperband has no max_trials argument: a cap
        set_min_epochs(tuner.oracle, min_epochs)
    elif kind == "bayesian":
        tuner = budgeted(kt.BayesianOptimization)(hypermodel, max_trials=max_trials, **common)
    elif kind == "random":
        tuner = budgeted(kt.RandomSearch)(hypermodel, max_trials=max_trials, **common)
    else:
        raise UserError(f"--tuner must be one of {TUNERS}, got {kind!r}")
    defaults_first(tuner.oracle)
    return tuner


def defaults_first(oracle) -> None:
    """Make the first trial of a search the space's defaults (its recipe), then sample as
    KerasTuner does. Every oracle (random, Hyperband, Bayesian's initial points) draws new
    values through ``_random_values``; without this the known-good configuration is rarely
    tried and a short search only ranks random points."""
    from tuning.best import default_values

    sample = getattr(oracle, "_random_values", None)
    if sample is None:  # a worker's client of the chief's oracle: the chief's does this
        return

    def values():
        if oracle._tried_so_far:  # restored with the oracle's state on a resumed search
            return sample()
        return default_values(oracle)

    oracle._random_values = values


def set_min_epochs(oracle, min_epochs) -> None:
    """Hyperband's shortest trial: KerasTuner's ``HyperbandOracle.min_epochs`` (1, set in its
    constructor, which starts the first bracket with it), so a new search's first bracket is
    started again with ``min_epochs`` (private attributes of KerasTuner 1.4: see
    tuning/README.md, and the pin in requirements.txt). A resumed search keeps the one it was
    started with (the oracle's saved state)."""
    if min_epochs <= 1 or getattr(oracle, "trials", None) or not hasattr(oracle, "min_epochs"):
        return
    oracle.min_epochs = int(min_epochs)
    oracle._current_bracket = oracle._get_num_brackets() - 1
    oracle._brackets = []
    oracle._start_new_bracket()


def fidelity_inputs(args, seconds, search_s, gpu, recorded) -> tuple:
    """``(seconds, search_seconds, accelerator)`` that size the search (``tuning.fidelity``);
    ``recorded``: the search's settings (``SETTINGS_FILE``). ``--rank`` reopens a finished
    search whatever its own budget: a CPU search keeps its CPU sizing; a smoke test has none."""
    if args.rank is not None and "cpu_smoke" in recorded:
        raise UserError(f"--rank: {fidelity.UNRANKED}")
    if args.rank is not None and recorded:
        seconds = search_s = CPU_DEFAULT if "cpu_fixed" in recorded else None
        gpu = None
    return seconds, search_s, gpu


def search_fidelity(args, space, cfg, seconds, search_s, gpu, recorded,
                    centred=False) -> fidelity.Fidelity:
    """``tuning.fidelity.choose`` for this command (``fidelity_inputs``' sizing; ``centred``:
    the space's defaults are ``cfg``, make train's recipe); a resumed search keeps its subset
    of Training whatever the new budget (its scores stay comparable)."""
    limit = args.limit or recorded.get("limit")
    return fidelity.choose(space, cfg, seconds, search_s, gpu, limit, args.epochs,
                           [f.partition("=")[0] for f in args.fix], args.tuner, centred)


def search_arrays(cfg: TrainConfig, data):
    """((x, y), (vx, vy), classes) of the search, exactly as ``keras_fer.train`` selects them:
    Training (``limit``-ed) and PublicTest or a stratified split of Training; never PrivateTest."""
    from keras_fer.train import select_data

    return select_data(cfg, data)


def hparams_callbacks(cfg, log_dir) -> list:
    """KerasTuner's documented HParams logging: a TensorBoard callback given to ``search``, which
    KerasTuner points at ``log_dir/<trial>/execution0`` and pairs with the trial's HParams."""
    import keras

    from keras_fer.train.callbacks import tensorboard_callbacks as callbacks

    if not cfg.tensorboard or keras.backend.backend() != "tensorflow":
        return []
    return callbacks(log_dir, what="HParams log")


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


def plan_search(args, cfg, data, tuner, hypermodel, fixed, budget, x, y, n_val, who, fid=None):
    """The SearchPlan: estimates from the project's measured trials, else a calibration;
    ``cfg``: the retraining's config (its epochs), ``hypermodel.base`` the trials'."""
    import numpy as np

    estimator = Estimator()
    for timing in read_timings(tuner.project_dir):
        estimator.add(timing)
    if not estimator.known() and who == "single":  # distributed: from the first measured trial
        estimator.calibration = calibrate(hypermodel, fixed.copy(), x, y, n_val)
    retrain = None
    if not args.no_retrain:
        full = cfg.replace(limit=None)
        n_full = int(np.sum(data.splits == "Training"))
        n_full_val = n_val if full.val == "split" else int(np.sum(data.splits == "PublicTest"))
        n_eval = int(sum(np.sum(data.splits == s) for s in ("PublicTest", "PrivateTest")))
        retrain = (n_full, n_full_val, n_eval, full.epochs)
    fid = fid or fidelity.Fidelity()
    plan = SearchPlan(budget, estimator, args.tuner, hypermodel.base.epochs, args.max_trials,
                      len(y), n_val, hypermodel.base.batch_size, retrain=retrain, verbose=bool(cfg.verbose),
                      min_epochs=fid.min_epochs, note=fid.note)
    plan.sync(tuner.oracle)
    return plan


def run(args) -> int:
    """The search of the parsed options (``tuning.cli.parse_args``); the exit code."""
    start = time_budget.clock()  # the budget counts from here: loading the data is part of it
    check_options(args)
    space = get_space(args.space)
    who = role()
    from keras_fer.devices import accelerator_name

    gpu = accelerator_name()
    seconds, why = budget_seconds(args, gpu)
    ranking = args.rank is not None
    budget = Budget(seconds, retrain=not (args.no_retrain or ranking), start=start)
    search_s = None if budget.search_end is None else budget.search_end - budget.start
    project = f"{space.name}_{args.tuner}"
    settings_path = Path(args.dir) / project / SETTINGS_FILE
    if ranking and who != "single":
        raise UserError("--rank runs in one process: unset KERASTUNER_ORACLE_IP")
    if ranking and not any((Path(args.dir) / project).glob("trial_*")):
        raise UserError(f"--rank: no search to rank in {Path(args.dir) / project}; run the search "
                        "first (the same command without --rank)")
    recorded = read_json(settings_path) if settings_path.is_file() else {}
    sized = fidelity_inputs(args, seconds, search_s, gpu, recorded)
    recipe = from_recipe(args, space, fidelity.cpu_sized(sized[0], sized[2]))
    cfg = base_config(args, space, recipe)
    fid = search_fidelity(args, space, cfg, *sized, recorded, centred=recipe)
    if fid.limit != cfg.limit:  # the CPU search's subset of Training
        cfg = cfg.replace(limit=fid.limit)
    # cfg: the retraining's (a recipe's: make train's, key for key); the trials monitor the
    # objective over their own epochs, and log their HParams whatever the recipe's TensorBoard
    trial_cfg = cfg.replace(monitor=args.objective, tensorboard=cfg.tensorboard or recipe,
                            **({"epochs": fid.epochs} if fid.epochs else {}), **fid.trial)
    from tuning.best import read_baseline

    baseline = read_baseline(args.baseline) if args.baseline and who != "worker" else None
    best_out = Path(args.best_out) if args.best_out else Path(args.dir) / project / "best"
    check_out_dir(Path(args.dir) / project)  # a file, or read-only: before any work
    check_state_files(Path(args.dir) / project)
    if who != "worker" and args.release:
        from keras_fer.release import check_out

        check_out(best_out, args.force)  # fail before the search, not after
    space = fid.space(space)  # the CPU search's x0.25 networks
    fixed = fixed_hyperparameters(space, args.fix + fid.fix)
    check_settings(Path(args.dir) / project, {
        "space": space.name, "tuner": args.tuner, "fix": sorted(args.fix),
        **({"cpu_smoke": {"trial": fid.trial, "fix": fid.fix}} if fid.trial else {}),
        **({"cpu_fixed": fid.fixed, "cpu_narrow": fid.narrow, "trial_epochs": trial_cfg.epochs}
           if fid.cpu else {}),
        **{k: v for k, v in cfg.to_dict().items() if k not in RESUME_FREE}})
    devices = make_plan(cfg.devices)
    if devices.processes > 1:
        raise UserError("tuning on several hosts: run KerasTuner's workers (tuning/README.md)")
    devices.check_batch(cfg.batch_size)
    from keras_fer.data import load

    data = load(cfg.data, classes=cfg.classes)
    (x, y), (xv, yv), classes = search_arrays(cfg, data)
    from tuning.best import constant_score

    chance = constant_score(yv, args.objective)  # what a net that learned nothing scores
    x, y = devices.trim(x, y, cfg.seed)
    hypermodel = FERHyperModel(trial_cfg, num_classes=len(classes), train_labels=y, space=space)
    with contextlib.redirect_stdout(io.StringIO()) as kerastuner_says:  # after our first line
        tuner = make_tuner(args.tuner, hypermodel, args.objective, args.max_trials,
                           trial_cfg.epochs, args.dir, seed=cfg.seed, fixed=fixed,
                           project_name=project, min_epochs=fid.min_epochs, keep_defaults=fid.cpu)
    if ranking:  # no new trial: K of the finished ones retrained, evaluated on PublicTest
        from tuning.rank import rank_trials

        return rank_trials(args, space, cfg, data, tuner, budget, why, chance, fid.cpu,
                           kerastuner_says.getvalue())
    plan = plan_search(args, cfg, data, tuner, hypermodel, fixed, budget, x, y, len(yv), who, fid)
    tuner.plan = plan
    for line in first_lines(plan, why, space.name, args.tuner, trials_done(tuner.oracle)):
        print(line, flush=True)
    print(kerastuner_says.getvalue(), end="", flush=True)
    if hypermodel.precision_note:
        print(hypermodel.precision_note, flush=True)
    print(f"search: {args.tuner} ({who}), at most {args.max_trials} trials in {tuner.project_dir}, "
          f"{len(x)} training / {len(xv)} validation images ({cfg.val}), {devices.describe()}",
          flush=True)
    # the trainer's model takes (images, labels): the labels feed the models' auxiliary losses
    fit = ((x[..., None], y), y)
    xv, yv, weights, _ = devices.val_arrays(xv, yv)
    val = ((xv[..., None], yv), yv) + (() if weights is None else (weights,))
    try:
        if who == "chief":
            serve_as_chief(tuner)
        else:
            with devices.scope():
                tuner.search(*fit, validation_data=val, epochs=trial_cfg.epochs,
                             callbacks=hparams_callbacks(trial_cfg, Path(tuner.project_dir) / "tensorboard"))
    except BudgetSpent as stop:
        print(f"{stop}; run the same command again to resume within a new budget", flush=True)
    if who == "worker":
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']}: search finished")
        return 0
    return finish(args, space, cfg, data, tuner, budget, plan, best_out, chance, baseline)


def finish(args, space, cfg, data, tuner, budget, plan, best_out, chance=None,
           baseline=None) -> int:
    """The table and the plots; then the retrained best, evaluated (beside ``baseline``, make
    train's figure, ``tuning.best.read_baseline``); then the release if asked."""
    from tuning.best import release_best, retrain_best, summary_line

    out_dir = Path(tuner.project_dir)
    table = trials_table(tuner.oracle.trials.values(), out_dir, TIMING_FILE)
    write_report(table, out_dir, args.objective)
    print(table.to_string(index=False))
    print(f"wrote {out_dir / 'trials.csv'}, {out_dir / 'trials.png'} and "
          f"{out_dir / 'hyperparameters.png'}")
    if args.no_retrain:
        return 0
    run_dir = retrain_best(tuner, space, cfg, data, budget, plan.estimator, chance, baseline)
    print(summary_line(run_dir))
    if args.release:
        release_best(run_dir, best_out, cfg.data, args.force)
        print(f"released: {best_out} (report: {best_out / 'eval' / 'report.json'})")
    else:
        print(f"to release it (ten-crop reports, TFLite export, model card): make release "
              f"RUN={run_dir}, or this command with --release")
    return 0
