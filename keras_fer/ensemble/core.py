"""k-member ensembles as ONE model: ``build_ensemble(models)`` averages the members'
probabilities in a single Keras model, and ``write_ensemble(run_dirs, out)`` saves it as a run
directory, so that evaluate, visualize, export (one SavedModel), predict, release and
distillation (``--teacher``) read it like any run.

    RUN_DIR/model.keras    input = the largest member input; each member sees it centre-cropped
                           to its own input; output = log(mean of the members' softmax)
    RUN_DIR/meta.json      classes, input_shape, "ensemble": [member run directories]
    RUN_DIR/summary.json   the members and their own best validation values

Example:
    >>> from keras_fer.ensemble import write_ensemble
    >>> write_ensemble(["runs/a", "runs/b", "runs/c"], "runs/ens")
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from keras_fer import rundir
from keras_fer.errors import UserError
from keras_fer.io_utils import read_json, write_json


def check_members(members) -> None:
    """An ensemble has at least 2 members (models or run directories)."""
    if len(members) < 2:
        raise UserError(f"an ensemble needs at least 2 members, got {len(members)}")


def build_ensemble(models, name="ensemble"):
    """One model averaging the probabilities of ``models`` (Keras models, logits out)."""
    import keras

    from keras_fer.layers import MeanProbabilityLogits

    check_members(models)
    shapes = [tuple(int(d) for d in m.input_shape[1:]) for m in models]
    h, w = max(s[0] for s in shapes), max(s[1] for s in shapes)
    inputs = keras.Input((h, w, 1), name="image", dtype="float32")
    logits = []
    for i, (model, shape) in enumerate(zip(models, shapes), start=1):
        member = keras.Model(model.inputs, model.output, name=f"member{i}")
        x = inputs
        if shape[:2] != (h, w):
            x = keras.layers.CenterCrop(shape[0], shape[1], name=f"member{i}_crop")(x)
        logits.append(member(x))
    out = MeanProbabilityLogits(name="predictions", dtype="float32")(logits)
    return keras.Model(inputs, out, name=name)


def check_ensemble_out(out, force=False, run_dirs=()) -> None:
    """``out`` may receive an ensemble, as train's and release's ``--out``: a new or empty
    folder; a finished run, an unfinished one or a release only with ``force`` (then replaced
    whole); never a folder of other files, a folder inside a run or release, one of the
    members ``run_dirs`` or a folder holding one."""
    from keras_fer.io_utils import check_out_dir

    out = Path(out)
    check_out_dir(out)
    home = rundir.run_above(out)
    if home is not None:
        raise UserError(f"{out}: inside the run or release {home}, which it would change: "
                        "choose a folder outside it")
    for d in run_dirs:
        if out.resolve() == Path(d).resolve() or out.resolve() in Path(d).resolve().parents:
            raise UserError(f"{out}: holds the member {d}; choose a new --out")
    state = rundir.out_state(out)
    if state == "new":
        return
    if state == "other":
        first = sorted(p.name for p in out.iterdir())[0]
        raise UserError(f"{out}: not a run directory (it holds {first}, ...): choose a new or "
                        "empty folder")
    what = {"release": "a released model", "finished": "a finished run",
            "unfinished": "an unfinished run"}[state]
    if not force:
        raise UserError(f"{out}: {what} is there; pass --force to replace it, or choose "
                        "another folder")


def write_ensemble(run_dirs, out, *, force=False) -> Path:
    """Write the ensemble of ``run_dirs`` as a run directory at ``out`` (``check_ensemble_out``: an
    existing run or release there is replaced whole, only with ``force``). It is built in a
    staging folder beside ``out`` and renamed into place: nothing of the old folder is left
    in the new one, and a failure leaves the old one as it was."""
    check_members(run_dirs)  # before Keras is imported: a mistake costs no TensorFlow start
    from keras_fer.io_utils import disk_full_is_user_error, remove_stale_stages, stage_path, swap_into_place
    from keras_fer.train.callbacks import save_model_atomic

    out = Path(out)
    if len(set(Path(d).resolve() for d in run_dirs)) != len(run_dirs):
        raise UserError("the same run directory is named twice")
    check_ensemble_out(out, force, run_dirs)
    run_dirs = [rundir.check_run_dir(d) for d in run_dirs]
    classes = [rundir.class_names(d) for d in run_dirs]
    for d, c in zip(run_dirs[1:], classes[1:]):
        if c != classes[0]:
            raise UserError(f"{d}: classes {c} differ from {run_dirs[0]}'s {classes[0]}")
    model = build_ensemble([rundir.load_model(d) for d in run_dirs])
    members = [str(d) for d in run_dirs]
    remove_stale_stages(out)
    stage = stage_path(out, os.getpid())
    shutil.rmtree(stage, ignore_errors=True)
    with disk_full_is_user_error(out):  # the finally removes the staging folder
        try:
            stage.mkdir(parents=True)
            save_model_atomic(model, stage / rundir.MODEL_FILE)
            rundir.write_meta(stage, {"classes": classes[0],
                                      "input_shape": [int(v) for v in model.input_shape[1:]],
                                      "model": "ensemble", "ensemble": members,
                                      "finished": time.strftime("%Y-%m-%d %H:%M"),
                                      **_provenance(run_dirs)})
            write_json(stage / rundir.SUMMARY_FILE, {
                "model": "ensemble", "members": [
                    {"dir": m, **_best(Path(m))} for m in members],
                "parameters": int(model.count_params()),
                "train_cpu_hours": _sum_cpu_hours(run_dirs)})
            if out.exists() and any(out.iterdir()):
                print(f"replacing {out} (all of it)", flush=True)
            swap_into_place(stage, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return out


def _provenance(run_dirs) -> dict:
    """What a model card says of where a model was trained, for the ensemble: Keras and backend
    of this process, the members' machines, and their training seconds summed."""
    import keras

    metas = [rundir.read_meta(d) for d in run_dirs]
    found = {"keras": keras.version(), "backend": keras.backend.backend()}
    devices = list(dict.fromkeys(m["device"] for m in metas if m.get("device")))
    if devices:
        found["device"] = "; ".join(devices)
    seconds = [m.get("train_seconds") for m in metas]
    if all(isinstance(t, (int, float)) for t in seconds):
        found["train_seconds"] = float(sum(seconds))
    return found


def _best(run_dir):
    path = run_dir / rundir.SUMMARY_FILE
    summary = read_json(path) if path.is_file() else {}
    return {k: summary.get(k) for k in ("monitor", "best_value", "best_epoch")}


def _sum_cpu_hours(run_dirs):
    hours = [rundir.train_cpu_hours(d) for d in run_dirs]
    return None if None in hours else round(sum(hours), 3)
