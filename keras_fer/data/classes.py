"""Class names: the emotions the readers know, their folder-name synonyms, and the numeric
codings of the public data sets (``--classes``).

A class name is always its own class (``contempt`` is never folded into ``disgust``), and a
number is never read as an emotion unless a coding says which: ``--classes raf-db`` (a preset)
or ``--classes 1=surprise,2=fear,...`` (explicit).

Example:
    >>> coding = parse_classes("raf-db")
    >>> CLASS_NAMES[coding["7"]]
    'neutral'
"""
from __future__ import annotations

import numpy as np

from keras_fer.emotions import EMOTIONS
from keras_fer.errors import UserError

CONTEMPT = "contempt"
# Label order of every data set read from folders or a CSV: FER2013's seven, then contempt
# (CK+, AffectNet, FER+). A data set without contempt images has the first seven only.
CLASS_NAMES = EMOTIONS + (CONTEMPT,)

# Folder names accepted for each class (lower case; matched case-insensitively).
SYNONYMS = {
    "angry": ("angry", "anger", "mad", "annoyed", "furious", "rage"),
    "disgust": ("disgust", "disgusted", "disgusting"),
    "fear": ("fear", "fearful", "afraid", "scared", "fright", "frightened"),
    "happy": ("happy", "happiness", "joy", "joyful", "smile", "smiling", "happy_face"),
    "sad": ("sad", "sadness", "unhappy", "sorrow"),
    "surprise": ("surprise", "surprised", "shock", "shocked", "amazed"),
    "neutral": ("neutral", "neutrality", "calm", "none", "normal"),
    CONTEMPT: ("contempt", "contemptuous", "scorn"),
}
_CLASS_OF = {syn: CLASS_NAMES.index(name) for name, syns in SYNONYMS.items() for syn in syns}

# The numeric label codings of the public data sets, in each one's own words.
PRESETS = {
    "fer2013": "0=angry,1=disgust,2=fear,3=happy,4=sad,5=surprise,6=neutral",
    "raf-db": "1=surprise,2=fear,3=disgust,4=happy,5=sad,6=angry,7=neutral",
    "ck+": "0=neutral,1=anger,2=contempt,3=disgust,4=fear,5=happy,6=sadness,7=surprise",
    "affectnet": "0=neutral,1=happy,2=sad,3=surprise,4=fear,5=disgust,6=anger,7=contempt",
    "fer+": "0=neutral,1=happiness,2=surprise,3=sadness,4=anger,5=disgust,6=fear,7=contempt",
}
HOW_TO_NAME = (f"name the coding with --classes (setting \"classes\"): a preset "
               f"({', '.join(PRESETS)}) or explicit, e.g. 1=surprise,2=fear,...")


def match_class(name: str):
    """Index into CLASS_NAMES of a folder or class name (any synonym, any case), or None.

    A number is not a name: ``match_class("3")`` is None (`parse_classes` gives numbers meaning).

    Example: ``match_class("Happiness") == 3``; ``match_class("contempt") == 7``.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in _CLASS_OF:
        return _CLASS_OF[key]
    return _CLASS_OF.get(key.rstrip("s"))


def code_key(text) -> str:
    """The lookup key of a folder name or label in a coding: lower case, numbers without
    leading zeros ("07" and "7" are the same code)."""
    key = str(text).strip().lower()
    return str(int(key)) if key.isdigit() else key


def parse_classes(spec, where="--classes"):
    """A coding ``{code_key: index into CLASS_NAMES}`` from a preset name or ``"k=name,..."``;
    None for None. A UserError names ``where`` and the part at fault.

    Example:
        >>> parse_classes("1=surprise,2=fear")
        {'1': 5, '2': 2}
    """
    if spec is None:
        return None
    text = str(spec).strip()
    preset = text.lower().replace("_", "-")
    preset = {"rafdb": "raf-db", "ckplus": "ck+", "ferplus": "fer+"}.get(preset, preset)
    if preset in PRESETS:
        text = PRESETS[preset]
    elif "=" not in text:
        raise UserError(f"{where} {spec!r}: not a preset ({', '.join(PRESETS)}) nor a list "
                        "such as 1=surprise,2=fear,...")
    coding = {}
    for part in (p.strip() for p in text.split(",")):
        code, _, name = (s.strip() for s in part.partition("="))
        if not code or not name:
            raise UserError(f"{where}: {part!r} is not CODE=CLASS (e.g. 1=surprise)")
        index = match_class(name)
        if index is None:
            raise UserError(f"{where}: {name!r} (for {code}) is not a class "
                            f"(known: {', '.join(CLASS_NAMES)} and synonyms)")
        if code_key(code) in coding:
            raise UserError(f"{where}: code {code!r} is given twice")
        coding[code_key(code)] = index
    return coding


def describe_codes(coding) -> str:
    """``"0..6"`` for consecutive numbers, else the codes joined by commas."""
    keys = list(coding)
    if all(k.isdigit() for k in keys):
        nums = sorted(int(k) for k in keys)
        if nums == list(range(nums[0], nums[-1] + 1)):
            return f"{nums[0]}..{nums[-1]}"
        keys = [str(n) for n in nums]
    return ", ".join(keys)


def classes_of(labels) -> tuple:
    """The class names of labels indexing CLASS_NAMES: EMOTIONS, plus contempt when present."""
    labels = np.asarray(labels)
    return CLASS_NAMES if labels.size and labels.max() >= len(EMOTIONS) else EMOTIONS


def class_index(name, classes=EMOTIONS) -> int:
    """Index of ``name`` (int, class name or synonym) in ``classes``; UserError if unknown."""
    if isinstance(name, (int, np.integer)):
        if not 0 <= int(name) < len(classes):
            raise UserError(f"class index {name} outside 0..{len(classes) - 1}")
        return int(name)
    lower = [c.lower() for c in classes]
    if str(name).lower() in lower:
        return lower.index(str(name).lower())
    idx = match_class(str(name))
    if idx is not None and CLASS_NAMES[idx] in lower:
        return lower.index(CLASS_NAMES[idx])
    raise UserError(f"unknown class {name!r} (known: {', '.join(classes)})")


def absent_class(name, classes) -> bool:
    """Whether ``name`` is a known class (or synonym) that ``classes`` does not have, such as
    contempt in FER2013: dropping it drops nothing."""
    if isinstance(name, (int, np.integer)) or str(name).lower() in [c.lower() for c in classes]:
        return False
    idx = match_class(str(name))
    return idx is not None and CLASS_NAMES[idx] not in [c.lower() for c in classes]


def add_classes_option(parser) -> None:
    """``--classes CODING`` on a command that reads a user's data set (checked when parsed)."""
    def checked(spec):  # a bad coding is a one-line error before anything is read
        parse_classes(spec)
        return spec

    parser.add_argument("--classes", metavar="CODING", type=checked,
                        help="what numbered class folders (or a CSV's emotion column) mean: "
                             f"a preset ({', '.join(PRESETS)}) or 1=surprise,2=fear,...")
