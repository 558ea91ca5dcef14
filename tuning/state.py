"""A search folder's state, checked before a search starts or resumes: the settings it started
with (``SETTINGS_FILE``: its trials' scores must stay comparable) and KerasTuner's own files
(a corrupt one is a one-line error here, not a JSONDecodeError deep in KerasTuner's reload).
"""
from __future__ import annotations

import json
from pathlib import Path

from keras_fer.errors import UserError
from keras_fer.io_utils import read_json, write_json
from tuning.plan import TIMING_FILE

SETTINGS_FILE = "search_settings.json"
RESUME_FREE = ("data", "out", "verbose", "tensorboard")  # may differ between the runs of a search

STATE_FILES = ("oracle.json", "tuner*.json", "trial_*/trial.json", f"trial_*/{TIMING_FILE}")


def check_state_files(project_dir: Path) -> None:
    """A UserError naming the first of a search's state files (KerasTuner's oracle, tuner and
    trial files, our timings) that is no JSON object: KerasTuner would fail on it deep inside
    its reload, with a JSONDecodeError."""
    for pattern in STATE_FILES:
        for path in sorted(Path(project_dir).glob(pattern)):
            try:
                state = read_json(path)
            except UserError as e:
                raise UserError(f"{e}: a corrupt search state file; delete it (or its trial "
                                "folder), or use another --dir") from None
            if not isinstance(state, dict):
                raise UserError(f"{path}: a corrupt search state file (not a JSON object); "
                                "delete it (or its trial folder), or use another --dir")


def check_settings(project_dir: Path, settings: dict) -> None:
    """A search continues only with the settings it started with (its trials' scores must stay
    comparable): the first is recorded in ``SETTINGS_FILE``, a differing one is a UserError."""
    path = project_dir / SETTINGS_FILE
    settings = json.loads(json.dumps(settings))
    if not any(project_dir.glob("trial_*")):  # nothing to compare with yet
        write_json(path, settings)
        return
    if not path.is_file():  # a search from before the settings were recorded
        return
    before = read_json(path)
    for key in sorted(set(before) | set(settings)):
        if before.get(key) != settings.get(key):
            raise UserError(f"{project_dir}: this search was started with {key} = "
                            f"{json.dumps(before.get(key))}, this command gives "
                            f"{json.dumps(settings.get(key))}; run it with the same settings or "
                            "use another --dir")
