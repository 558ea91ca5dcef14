"""Experiment files: a base TrainConfig and a list of named runs that override a few settings.

    {"name": "optimizer_lr_grid",
     "description": "...", "source": "the paper the figures come from",
     "published": {"adam_0.001": {"val_accuracy": 0.60}},
     "notes": "where and why our results differ",
     "base": {TrainConfig JSON},
     "runs": [{"name": "adam_0.001", "overrides": {"optimizer": {...}}}, ...],
     "repeats": 1,
     "report_private": "best validation",
     "reference": "baseline"}

``reference`` (optional) names the run the others are compared with: the table gets each run's
validation accuracy minus the reference's (an ablation's "helps / does not help").
``report_private`` names the run whose PrivateTest accuracy the table reports, or is the rule
``"best validation"`` (the run with the best mean validation ``base.monitor``): PrivateTest is
reported for that one configuration only and never used to choose it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from keras_fer.config import TrainConfig
from keras_fer.errors import UserError, UserFileNotFound
from keras_fer.io_utils import read_json

BEST_VALIDATION = "best validation"
KEYS = {"name", "description", "source", "published", "notes", "base", "runs", "repeats",
        "report_private", "reference"}
REQUIRED = ("name", "base", "runs")


@dataclass
class Run:
    name: str
    overrides: dict
    config: TrainConfig


@dataclass
class Experiment:
    name: str
    path: Path
    base: TrainConfig
    runs: list
    description: str = ""
    source: str = ""
    notes: str = ""
    published: dict = field(default_factory=dict)
    repeats: int = 1
    report_private: str = BEST_VALIDATION
    reference: str | None = None
    left_out: list = field(default_factory=list)  # runs of the file not run this time (--runs)

    def run(self, name) -> Run:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(name)

    def keep(self, names) -> None:
        """Narrow the study to the runs ``names`` (this time's table and choice); the others
        are named in ``left_out``, and a reference or PrivateTest choice among them is dropped."""
        self.left_out = [r.name for r in self.runs if r.name not in names]
        self.runs = [r for r in self.runs if r.name in names]
        self.published = {k: v for k, v in self.published.items() if k in names}
        if self.reference not in names:
            self.reference = None
        if self.report_private not in names and self.report_private != BEST_VALIDATION:
            self.report_private = BEST_VALIDATION


def load_experiment(path, check_models: bool = True) -> Experiment:
    """Read and validate an experiment file: every run's config and model name are checked."""
    path = Path(path)
    d = read_json(path)
    src = str(path)
    if not isinstance(d, dict):
        raise UserError(f"{src}: expected a JSON object")
    unknown = sorted(set(d) - KEYS)
    if unknown:
        raise UserError(f"{src}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    for key in REQUIRED:
        if key not in d:
            raise UserError(f"{src}: missing {key!r}")
    base = TrainConfig.from_dict(d["base"], source=f"{src}: base")
    if not isinstance(d["runs"], list) or not d["runs"]:
        raise UserError(f"{src}: runs must be a non-empty list")
    runs, seen = [], set()
    for i, r in enumerate(d["runs"]):
        where = f"{src}: runs[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not r["name"]:
            raise UserError(f"{where}: needs a \"name\" (a non-empty string)")
        extra = sorted(set(r) - {"name", "overrides"})
        if extra:
            raise UserError(f"{where}: unknown key {extra[0]!r} (known: name, overrides)")
        if r["name"] in seen:
            raise UserError(f"{where}: duplicate run name {r['name']!r}")
        if "/" in r["name"] or r["name"].startswith("."):
            raise UserError(f"{where}: run name {r['name']!r} must be usable as a folder name")
        seen.add(r["name"])
        overrides = r.get("overrides", {})
        if not isinstance(overrides, dict):
            raise UserError(f"{where}: overrides must be an object")
        merged = {**base.to_dict(), **overrides}
        runs.append(Run(r["name"], overrides, TrainConfig.from_dict(merged, source=f"{where} ({r['name']})")))
    published = d.get("published", {})
    if not isinstance(published, dict):
        raise UserError(f"{src}: published must be an object {{run name: figures}}")
    for name in published:
        if name not in seen:
            raise UserError(f"{src}: published names {name!r}, which is not a run")
    repeats = d.get("repeats", 1)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise UserError(f"{src}: repeats must be an integer >= 1, got {repeats!r}")
    private = d.get("report_private", BEST_VALIDATION)
    if private != BEST_VALIDATION and private not in seen:
        raise UserError(f"{src}: report_private must be a run name or {BEST_VALIDATION!r}, "
                        f"got {private!r}")
    reference = d.get("reference")
    if reference is not None and reference not in seen:
        raise UserError(f"{src}: reference must be a run name, got {reference!r}")
    exp = Experiment(name=str(d["name"]), path=path, base=base, runs=runs,
                     description=str(d.get("description", "")), source=str(d.get("source", "")),
                     notes=str(d.get("notes", "")), published=published, repeats=repeats,
                     report_private=private, reference=reference)
    if check_models:
        check_model_names(exp)
    return exp


def check_model_names(exp: Experiment) -> None:
    """Every run's model is a registered name or an existing JSON model file."""
    from keras_fer.models import list_models

    known = set(list_models())
    for r in exp.runs:
        model = r.config.model
        if model.endswith(".json"):
            if not (Path(model).is_file() or (exp.path.parent / model).is_file()):
                raise UserFileNotFound(f"{exp.path}: run {r.name!r}: model file {model!r} not found")
        elif model not in known:
            raise UserError(f"{exp.path}: run {r.name!r}: unknown model {model!r} "
                            f"(registered: {', '.join(sorted(known))})")


def list_experiments(directory="experiments") -> list:
    """The experiment files in ``directory`` (sorted), as loaded Experiments."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserFileNotFound(f"{directory}: no such experiments folder")
    return [load_experiment(p) for p in sorted(directory.glob("*.json"))]
