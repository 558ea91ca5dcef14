"""Durations as people write them (``45m``, ``2h``, ``1h30m``, ``90s``): the time budgets of
``python -m keras_fer.train --time-budget`` (config key ``time_budget``) and of the search
(``python -m tuning --time-budget``). No Keras here: the CLIs check them before importing it."""
from __future__ import annotations

import re

from keras_fer.errors import UserError

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
    return seconds


def minutes(seconds) -> str:
    """45 min, 2 h, 1 h 30 min, 40 s."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    h, m = divmod(round(seconds / 60), 60)
    return " ".join(p for p in (f"{h} h" if h else "", f"{m} min" if m else "") if p)
