"""Durations as people write them (``45m``, ``2h``, ``1h30m``, ``90s``): the time budgets of
``python -m keras_fer.train --time-budget`` (config key ``time_budget``) and of the search
(``python -m tuning --time-budget``). No Keras here: the CLIs check them before importing it."""
from __future__ import annotations

import re
import sys

from keras_fer.errors import UserError

MAX_SECONDS = 366 * 24 * 3600  # a year: longer is "none" (and past float range, inf)
PROBE_EPOCHS = 2  # a budgeted training's epochs timed before its epochs are fixed (keras_fer.budget)

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text, what="--time-budget"):
    """``"45m"``, ``"2h"``, ``"1h30m"``, ``"90s"`` -> seconds; ``"none"`` -> None (no budget).
    A UserError names ``what`` (the flag or setting) and the text."""
    text = str(text).strip().lower()
    if text == "none":
        return None
    match = _DURATION.match(text)
    if not text or not match:
        raise UserError(f"{what} {text!r}: expected a duration such as 45m, 2h, 1h30m or "
                        "90s (or none for no limit)")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    seconds = 3600 * h + 60 * m + s
    if seconds <= 0:
        raise UserError(f"{what} {text!r}: must be more than 0 (or none for no limit)")
    if seconds > MAX_SECONDS:
        raise UserError(f"{what} {text!r}: must be at most a year, 8784h (or none for no limit)")
    return seconds


def glue_values(argv=None, flags=("--time-budget",)):
    """``argv`` (default ``sys.argv[1:]``) with ``FLAG -5m`` written ``FLAG=-5m``: argparse
    takes a value that starts with "-" for an option and would answer "expected one argument"
    instead of naming the value."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, i = [], 0
    while i < len(argv):
        if argv[i] in flags and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def minutes(seconds) -> str:
    """45 min, 2 h, 1 h 30 min, 40 s."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    h, m = divmod(round(seconds / 60), 60)
    return " ".join(p for p in (f"{h} h" if h else "", f"{m} min" if m else "") if p)


def flag(seconds) -> str:
    """``minutes`` as ``--time-budget`` takes it: 45m, 2h, 1h30m, 40s (``parse_duration``
    reads it back)."""
    return minutes(seconds).replace(" h", "h").replace(" min", "m").replace(" ", "")


def check_budget(cfg, source="config") -> float | None:
    """The budget of a TrainConfig ``cfg`` in seconds (None without one); UserError for a budget
    the run cannot keep (with folds, or a cosine warm-up shorter than the probe). Here, not in
    keras_fer.budget, so that the training CLI checks it before importing Keras."""
    if cfg.time_budget is None:
        return None
    seconds = parse_duration(cfg.time_budget, f"{source}: time_budget")
    if seconds is None:
        return None
    if cfg.folds:
        raise UserError(f"{source}: time_budget with folds is not supported (give each fold "
                        "its epochs)")
    warmup = cfg.schedule.get("warmup_epochs", 5)  # the cosine schedule's default
    if cfg.schedule["name"] == "cosine" and warmup < PROBE_EPOCHS:
        raise UserError(f"{source}: time_budget needs a cosine warm-up of at least "
                        f"{PROBE_EPOCHS} epochs, got warmup_epochs {warmup}: the epochs are "
                        f"fixed after epoch {PROBE_EPOCHS}, and the decay spans them")
    return seconds
