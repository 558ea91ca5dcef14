"""What a search trains on a CPU within a budget (``python -m tuning`` without a GPU).

On 2 CPU cores a VGG13 x0.75 epoch takes 130-390 s: 45 minutes bought 2 trials of 2 epochs, which
ended inside the warm-up with an EMA still near the initial weights and scored what always
answering "happy" scores. So, without a GPU and with a budget under ``HEAVY_BUDGET_S``, the
trials are cheaper and long enough to learn:

- the quarter-width networks of ``make train`` (recipes/cpu.json: VGG13 x0.25, about 25 s an
  epoch on all of Training) for the efficient space: ``width`` is held at 0.25, and the space's
  defaults are that recipe (``Space.cpu_recipe``, ``Space.centre``), which the search starts
  from and its retraining trains as ``make train`` does;
- a stratified subset of Training (``SUBSETS``, by the search's time; ``--limit`` overrides);
- the longest trial (Hyperband's last round; every trial of the other tuners) at least
  ``FINAL_STEPS`` training steps, where trials rank finishers; Hyperband's shortest a third of
  it, and above the warm-up plus the EMA's horizon of the space's default configuration
  (``trial_needs``), at least ``MIN_EPOCHS`` and ``MIN_STEPS`` training steps.

With less than ``SMOKE_S`` for its trials a search cannot rank (its shortest ranking trial takes
about 2 minutes); it smoke-tests instead: trials at batch ``SMOKE_BATCH`` without affine
augmentation, holding ``SMOKE_FIX`` (mini-Xception, Adam, cosine, no EMA), which learn within a
minute but say nothing about make train's recipe, and the plan says so.

The blockcnn space runs the same way (its widths are small already). A GPU, ``--time-budget
none`` or a budget of ``HEAVY_BUDGET_S`` and more keep the full spaces (the GPU path).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

from keras_fer.durations import flag

HEAVY_BUDGET_S = 3 * 3600  # x0.375-x0.75 networks: at ~4x-9x an x0.25 epoch, hours on a CPU
QUARTER = 0.25  # recipes/cpu.json's width
# the efficient space's networks a CPU search trains. VGG19 at x0.25 (16 convs of 16-128
# channels) did not learn in a CPU search: 6 trials of 756 steps scored 0.059-0.078 val
# macro-F1 (the constant predictor 0.057), and one retrained with make train's budget reached
# PublicTest 0.234 where make train's VGG13 reaches 0.615 (docs/measurements.md, 2026-12-05)
CPU_MODELS = ("vgg13", "mini_xception")
MIN_EPOCHS = 4  # a trial's shortest, whatever its warm-up and EMA
# a trial's fewest training steps. Measured 2026-12-05 on the shared 2-core machine: VGG13 x0.25
# on 4,000 images stayed at the constant predictor after 128 steps (4 epochs of 128) and after
# 500 (4 epochs of 32; with Adam, without L2 alike); recipes/cpu.json on all of Training left it
# after 450 steps (val macro-F1 0.143) and reached 0.267 after 675
MIN_STEPS = 600
FACTOR = 3  # Hyperband's reduction factor (its default)
# the longest trial's fewest training steps: the length at which trials rank finishers.
# Measured 2026-12-05 (docs/measurements.md): make train's recipe (PublicTest 0.615 at full
# length) scored below mini-Xception (0.495) after 630, 1,134 and 1,152 steps, above it after
# 2,268. Hyperband's shortest trials are a third of it; tuning.incumbent keeps the recipe to
# the last round
FINAL_STEPS = 2200
# Training images a trial trains on, by the search's seconds: the first bound above it
SUBSETS = ((15 * 60, 4000), (60 * 60, 8000), (math.inf, 16000))
# Below SMOKE_S seconds of trials, a smoke test. Measured 2026-12-05 (docs/measurements.md,
# sixth session), 4,000 Training images on 2 cores: make train's recipe (VGG13 x0.25, batch
# 128, affine, EMA) stayed at the constant predictor for 875 steps, with batch 32 too; without
# affine and EMA at batch 32 (4 times the updates in the same seconds) mini-Xception with Adam
# reached val macro-F1 0.23 in 750 steps (48 s), VGG13 with Adam 0.13, with SGD 0.05 nothing
SMOKE_S = 8 * 60
# the shortest whole-minute budget whose trials get SMOKE_S beside make train's retraining
RANK_BUDGET = "15m"
SMOKE_BATCH = 32
# the smoke test's held hyperparameters, where the space has them (``--fix`` ones win); a
# step schedule would cut the rate after 2 of 6 epochs
SMOKE_FIX = {"model": "mini_xception", "optimizer": "adam", "schedule": "cosine",
             "erasing": "0.0", "mix": "none", "ema": "false", "augment": "none"}
# why --rank refuses a smoke test (tuning.search)
UNRANKED = (f"this search is a CPU smoke test (under {flag(SMOKE_S)} of trials), whose trials rank "
            f"nothing; rank a search of {RANK_BUDGET} or more")


@dataclass
class Fidelity:
    """The search's fidelity.

    Args:
        cpu: the CPU sizing applies (else the full spaces: ``limit``/``fixed`` from the options).
        limit: Training images a trial trains on (None: all).
        min_epochs: Hyperband's shortest trial (1: KerasTuner's own).
        epochs: epochs a trial trains (Hyperband: the most); None: the config's.
        fixed: hyperparameters held at a value ({"width": 0.25}).
        narrow: the space's ``declare`` arguments that hold them (``Space.narrowed``).
        note: what the sizing will and will not do, for the plan's first line.
        trial: TrainConfig settings of the trials only (the smoke test's batch and augment).
        fix: ``--fix`` items the trials hold (the smoke test's ``SMOKE_FIX``).
    """

    cpu: bool = False
    limit: int | None = None
    min_epochs: int = 1
    epochs: int | None = None
    fixed: dict = field(default_factory=dict)
    narrow: dict = field(default_factory=dict)
    note: str = ""
    trial: dict = field(default_factory=dict)
    fix: list = field(default_factory=list)

    def space(self, space):
        """``space`` narrowed to this fidelity."""
        return space.narrowed(**self.narrow) if self.narrow else space


def trial_needs(space, base, epochs, steps_per_epoch) -> int:
    """Epochs a trial of ``epochs`` epochs spends before its validation means something: the
    cosine warm-up plus the EMA's horizon (1 / (1 - momentum) steps) of the space's defaults."""
    import keras_tuner as kt

    cfg = space.apply(base.replace(epochs=int(epochs)), space.declare(kt.HyperParameters()),
                      steps_per_epoch)
    warmup = cfg.schedule.settings().get("warmup_epochs", 0) if cfg.schedule["name"] == "cosine" else 0
    horizon = math.ceil(1.0 / (1.0 - cfg.ema) / steps_per_epoch) if cfg.ema else 0
    return int(math.ceil(warmup)) + horizon


def min_trial_epochs(space, base, steps_per_epoch) -> int:
    """The fewest epochs (at least ``MIN_EPOCHS`` and ``MIN_STEPS`` steps) with at least one
    epoch past the trial's warm-up and EMA horizon."""
    epochs = max(MIN_EPOCHS, math.ceil(MIN_STEPS / steps_per_epoch))
    while epochs <= trial_needs(space, base, epochs, steps_per_epoch):
        epochs += 1
    return epochs


def subset_for(search_seconds) -> int:
    return next(n for bound, n in SUBSETS if search_seconds <= bound)


def cpu_sized(seconds, accelerator) -> bool:
    """Whether a search of ``seconds`` (None: no budget) on ``accelerator`` is sized for a CPU."""
    return accelerator is None and seconds is not None and seconds < HEAVY_BUDGET_S


def choose(space, base, seconds, search_seconds, accelerator, limit=None, epochs=None,
           fixed_names=(), tuner="hyperband", centred=False) -> Fidelity:
    """The fidelity of a search of ``space`` over ``base`` with ``seconds`` of budget
    (``search_seconds`` of them for the trials) on a machine with ``accelerator`` (a name or
    None); ``limit``/``epochs``: the options' (they win); ``fixed_names``: ``--fix``-ed ones;
    ``centred``: ``base`` is the space's ``cpu_recipe``, which becomes its defaults."""
    if not cpu_sized(seconds, accelerator):
        return Fidelity(limit=limit, epochs=epochs)
    trial, fix = {}, []
    if search_seconds < SMOKE_S and epochs is None:  # trials that learn, not that rank
        trial = {"batch_size": SMOKE_BATCH,
                 "augment": {k: v for k, v in base.augment.items() if k != "affine"}}
        names = {hp.name for hp in space.hyperparameters()} - set(fixed_names)
        fix = [f"{k}={v}" for k, v in SMOKE_FIX.items() if k in names]
        base = base.replace(**trial)
    limit = limit or subset_for(search_seconds)
    steps = max(1, math.ceil(limit / base.batch_size))
    least = min_trial_epochs(space, base, steps)
    if epochs is None:  # the longest trial: FINAL_STEPS, a multiple of FACTOR
        epochs = FACTOR * math.ceil(max(FACTOR * least, math.ceil(FINAL_STEPS / steps)) / FACTOR)
        least = max(least, epochs // FACTOR) if tuner == "hyperband" else epochs
    fixed, narrow = {}, {}
    params = inspect.signature(space.declare).parameters
    if "widths" in params and "width" not in fixed_names:
        fixed["width"], narrow["widths"] = QUARTER, (QUARTER,)  # the efficient space's VGGs
    if "models" in params and "model" not in fixed_names:
        narrow["models"] = CPU_MODELS
    if centred and space.centre is not None:  # the defaults are make train's recipe: the
        narrow["defaults"] = space.centre(base)  # search keeps it unless a trial beats it
    heavy = flag(HEAVY_BUDGET_S)
    wont = (f"it will not train x0.375-x0.75 networks{' or VGG19' if 'models' in narrow else ''} "
            f"(they need --time-budget {heavy} or a GPU)"
            if fixed else f"for longer trials: --time-budget {heavy} or a GPU")
    lengths = f"{epochs}" if least >= epochs else f"{least}-{epochs}"
    note = (f"CPU search: {'x0.25 networks, ' if fixed else ''}trials of {lengths} epochs on "
            f"{limit:,} Training images; {wont}")
    if trial:
        held = ", ".join(f.replace("=", " ") for f in fix)
        note = (f"CPU smoke test (under {flag(SMOKE_S)} of trials, too short to rank make train's "
                f"recipe: that needs --time-budget {RANK_BUDGET} or more): trials of {lengths} epochs on "
                f"{limit:,} Training images at batch {SMOKE_BATCH}, without affine augmentation"
                f"{', holding ' + held if held else ''}")
    return Fidelity(cpu=True, limit=limit, min_epochs=min(least, epochs), epochs=epochs,
                    fixed=fixed, narrow=narrow, note=note, trial=trial, fix=fix)
