"""The runs a run was made from, its lineage: the run its weights started from (``init_from``),
the teacher it was distilled from (``distill``), a teacher ensemble's members, and theirs, in
the order they must be made. A release copies their recipes into ``lineage/``, and its card's
*Reproduce* makes each of them, under ``runs/<name>``, before the released run.

Example:
    >>> steps = lineage(rundir.read_config("runs/finetuned"))
    >>> [(s.name, s.kind) for s in steps]
    [('cpu_long', 'train'), ('cpu_kd', 'train'), ('ens_kd', 'ensemble')]
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from keras_fer import rundir

LINEAGE_DIR = "lineage"


@dataclass
class Step:
    name: str  # the card's commands make it as runs/<name>
    path: str  # where it was when the release was made
    kind: str  # "train" (a recipe in lineage/), "ensemble" (of members) or "missing" (not found)
    config: dict | None = None  # a training step's config.json, its sources renamed runs/<name>
    members: list = field(default_factory=list)  # an ensemble's member names
    cpu_hours: float | None = None  # its own training CPU-hours (summary.json), None: unknown


def sources(config: dict) -> dict:
    """``{"init_from": path, "teacher": path}`` of a config dict, the keys it does not use left
    out."""
    found = {"init_from": config.get("init_from"),
             "teacher": (config.get("distill") or {}).get("teacher")}
    return {k: v for k, v in found.items() if v}


def lineage(config, members=(), recorded=None) -> list:
    """The Steps ``config`` (a TrainConfig) was made from, each after the steps it needs;
    ``members``: an ensemble's member run directories (its config is the default);
    ``recorded``: a release's ``lineage/`` folder, whose recipes stand for runs since gone (their
    CPU-hours unknown)."""
    steps, names, done = [], {}, set()

    def key_of(path, kept=None):
        # a recorded recipe names its sources runs/<name>, the same runs as the config's paths;
        # a release's own record of a source is that run (the same recipe in two releases' records
        # is one run), whatever is at its path now: a release replaced in place (a source of
        # the release that replaced it) is a new model there
        kept_recipe = Path(kept) / f"{Path(path).name}.json" if kept is not None else None
        if recorded:
            return Path(path).name
        if kept_recipe is not None and kept_recipe.is_file():
            return "recipe:" + json.dumps(json.loads(kept_recipe.read_text(encoding="utf-8")),
                                          sort_keys=True)
        return str(Path(path).resolve())

    def name_of(path, key) -> str:
        if key not in names:
            name = base = Path(path).name or "run"
            n = 2
            while name in names.values():
                name, n = f"{base}-{n}", n + 1
            names[key] = name
        return names[key]

    def visit(path, kept=None) -> str:
        key = key_of(path, kept)
        name = name_of(path, key)
        if key not in done:
            done.add(key)
            steps.append(_step(Path(path), name, visit, recorded, kept))
        return name

    top = [*sources(config.to_dict()).values(), *members]
    for path in top:  # the runs named here keep their own names; older runs give way
        name_of(path, key_of(path))
    for path in top:
        visit(path)
    return steps


def _step(path: Path, name: str, visit, recorded=None, kept=None) -> Step:
    """The Step of run ``path``; ``kept``: the ``lineage/`` folder of the release that named
    ``path`` as a source, whose recipe is that run as it was (gone since, or replaced by another
    release at the same path)."""
    from keras_fer.io_utils import read_json

    recipe = Path(recorded) / f"{name}.json" if recorded else None
    if recipe is not None and recipe.is_file():  # its sources are named runs/<name> there
        config = read_json(recipe)
        for source in sources(config).values():
            visit(source)
        return Step(name, str(path), "train", config=config)
    if kept is not None and (Path(kept) / f"{path.name}.json").is_file():
        return Step(name, str(path), "train",
                    config=_renamed(read_json(Path(kept) / f"{path.name}.json"), visit, kept))
    if (path / rundir.CONFIG_FILE).is_file():
        own = path / LINEAGE_DIR  # a release: the recipes of its own sources, gone or not
        config = _renamed(read_json(path / rundir.CONFIG_FILE), visit,
                          own if own.is_dir() else None)
        return Step(name, str(path), "train", config=config,
                    cpu_hours=rundir.train_cpu_hours(path))
    meta = read_json(path / rundir.META_FILE) if (path / rundir.META_FILE).is_file() else {}
    members = rundir.ensemble_members(meta)
    if members:
        return Step(name, str(path), "ensemble", members=[visit(m) for m in members])
    return Step(name, str(path), "missing")


def _renamed(config, visit, kept) -> dict:
    """A copy of ``config`` whose sources are visited first and renamed ``runs/<name>``,
    without its ``out`` and ``data``."""
    config = copy.deepcopy(config)
    for key, source in sources(config).items():
        renamed = f"runs/{visit(source, kept)}"  # its own sources come first
        if key == "init_from":
            config["init_from"] = renamed
        else:
            config["distill"]["teacher"] = renamed
    return {k: v for k, v in config.items() if k not in ("out", "data")}


def write_recipes(steps, folder: Path) -> None:
    """Each training step's recipe as ``folder/lineage/<name>.json``."""
    from keras_fer.io_utils import write_text

    for step in steps:
        if step.kind == "train":
            (folder / LINEAGE_DIR).mkdir(parents=True, exist_ok=True)
            write_text(folder / LINEAGE_DIR / f"{step.name}.json",
                       json.dumps(step.config, indent=1) + "\n")


def commands(steps, out: Path, data) -> list:
    """The card's lines that make every step, in order."""
    if not steps:
        return []
    lines = ["# first the runs this model was made from (recipes in "
             f"{out / LINEAGE_DIR}), in this order"]
    for s in steps:
        if s.kind == "train":
            lines.append(f"python -m keras_fer.train --config {out / LINEAGE_DIR / (s.name + '.json')}"
                         f" --data {data} --out runs/{s.name}")
        elif s.kind == "ensemble":
            lines.append(f"python -m keras_fer.ensemble {' '.join('runs/' + m for m in s.members)}"
                         f" --out runs/{s.name}")
        else:
            # its name only: the card names no folder of the machine that made the release
            lines.append(f"# runs/{s.name}: its run directory ({Path(s.path).name}) was not "
                         "found when this was released; no recipe of it")
    return lines


def run_names(paths, steps) -> list:
    """The step names (runs/<name> in the card) of run directories ``paths``."""
    by_path = {str(Path(s.path).resolve()): s.name for s in steps}
    by_name = {s.name: s.name for s in steps}  # a recorded lineage's: runs/<name> or the path
    return [by_path.get(str(Path(p).resolve())) or by_name[Path(p).name] for p in paths]


def source_flags(config, steps) -> str:
    """The released run's ``--init-from``/``--teacher`` flags, naming its sources' runs/<name>."""
    flags = {"init_from": "--init-from", "teacher": "--teacher"}
    found = sources(config.to_dict())
    return "".join(f" {flags[k]} runs/{name}"
                   for k, name in zip(found, run_names(found.values(), steps)))


def total_cpu_hours(own, steps):
    """``own`` plus every training step's CPU-hours (each run once); None when any is unknown."""
    hours = [s.cpu_hours for s in steps if s.kind == "train"]
    if not isinstance(own, (int, float)) or any(h is None for h in hours):
        return None
    return own + sum(hours)
