"""The bad-input corpus: every kind of user mistake, through the real command lines.

Each case runs ``python -m <module> ARGS`` in a fresh folder that holds a finished run, a
release, a regular file, read-only folders, a zero-byte .npz, ... and asserts: exit code 2,
exactly one line on stderr (``error: ...``) that names the culprit, no traceback, no colour
codes, and every file that was there before is byte-identical afterwards.

To add a case, add a row to CASES: (id, argv, a fragment the message must contain). In argv,
``{name}`` is replaced by the path of a WORKSPACE entry. A command's parser and early checks run
without Keras (tests/test_cli_startup.py); keep the cases that get past them and import
TensorFlow (~5-15 s each: a video read after the model loaded) to those that need it.
"""
import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CASES = [
    # non-finite settings
    ("train-lr-inf", ["keras_fer.train", "--lr", "inf", "--out", "{new}"], "--lr: 'inf' is not a finite"),
    ("train-lr-nan", ["keras_fer.train", "--lr", "nan", "--out", "{new}"], "--lr: 'nan' is not a finite"),
    ("train-nested-nan-in-config", ["keras_fer.train", "--config", "{nan_config}"],
     "optimizer.momentum must be a finite number"),
    ("train-infinite-schedule-factor",
     ["keras_fer.train", "--schedule", '{"name": "step", "factor": Infinity}', "--out", "{new}"],
     "schedule.factor must be a finite number"),
    # a finished run or a release is replaced only with --force
    ("train-over-finished-run", ["keras_fer.train", "--out", "{run}", "--epochs", "1"],
     "a finished run is there; pass --force"),
    ("train-over-release", ["keras_fer.train", "--out", "{release}"], "a released model"),
    ("train-over-unfinished-run-of-other-settings",
     ["keras_fer.train", "--out", "{unfinished}", "--batch-size", "8"],
     "an unfinished run of other settings"),
    # a smoke run never writes into experiments/results/; committed results need --force
    ("experiments-smoke-into-results",
     ["keras_fer.experiments", "run", "{experiment}", "--limit", "50", "--out", "experiments/results/tiny"],
     "never writes into experiments/results"),
    ("experiments-over-committed-results", ["keras_fer.experiments", "run", "{experiment}"],
     "committed results are there; pass --force"),
    # validated before any work
    ("train-monitor-val-acc", ["keras_fer.train", "--monitor", "val_acc", "--out", "{new}"], "'val_acc'"),
    ("train-model-args-negative-width",
     ["keras_fer.train", "--model", "vgg13", "--model-args", '{"width": -1}', "--out", "{new}"],
     "model_args: width must be a number > 0, got -1"),
    ("evaluate-batch-size-0", ["keras_fer.evaluate", "{run}", "--batch-size", "0"], "--batch-size"),
    ("evaluate-batch-size-negative", ["keras_fer.evaluate", "{run}", "--batch-size=-4"], "--batch-size"),
    ("data-stats-zero-byte-npz", ["keras_fer.data", "stats", "--data", "{zero_npz}"], "zero.npz: empty file"),
    ("train-zero-byte-npz", ["keras_fer.train", "--data", "{zero_npz}", "--out", "{new}"],
     "zero.npz: empty file"),
    ("evaluate-zero-byte-npz", ["keras_fer.evaluate", "{run}", "--data", "{zero_npz}"],
     "zero.npz: empty file"),
    # a hand-made .npz: checked when read, naming the file and the array at fault
    ("evaluate-npz-label-9", ["keras_fer.evaluate", "{run}", "--data", "{npz_label_9}"],
     "label_9.npz: row 5: label 9 is outside 0..6"),
    ("evaluate-npz-6-classes-label-6", ["keras_fer.evaluate", "{run}", "--data", "{npz_6_classes}"],
     "6_classes.npz: row 6: label 6 is outside 0..5 (14 such"),
    ("evaluate-npz-40x40", ["keras_fer.evaluate", "{run}", "--data", "{npz_40x40}"],
     "40x40.npz: images of shape (36, 40, 40), expected (N, 48, 48)"),
    ("evaluate-corrupt-model", ["keras_fer.evaluate", "{corrupt}", "--data", "{data}"],
     "model.keras: corrupt model file"),
    ("train-out-under-file", ["keras_fer.train", "--out", "{file}/run"], "notes.txt is a file"),
    ("prepare-out-under-file", ["keras_fer.data", "prepare", "--src", "{data}", "--out", "{file}/data"],
     "notes.txt is a file"),
    ("export-out-under-file", ["keras_fer.export", "{run}", "--out", "{file}/export"], "notes.txt is a file"),
    ("visualize-out-under-file", ["keras_fer.visualize", "{run}", "--out", "{file}/vis"],
     "notes.txt is a file"),
    ("bench-out-under-file", ["keras_fer.bench", "--synthetic", "64", "--out", "{file}/bench.jsonl"],
     "notes.txt is a file"),
    ("bench-out-exists", ["keras_fer.bench", "--synthetic", "64", "--out", "{file}"],
     "notes.txt exists (earlier results); pass --force"),
    ("augment-out-under-file", ["keras_fer.augment", '{"flip": true}', "--out", "{file}/aug.png"],
     "notes.txt is a file"),
    ("release-out-under-file", ["keras_fer.release", "{run}", "--out", "{file}/best"], "notes.txt is a file"),
    ("stats-plot-read-only", ["keras_fer.data", "stats", "--data", "{data}", "--plot", "{read_only}/d.png"],
     "read_only is read-only"),
    ("prepare-read-only", ["keras_fer.data", "prepare", "--src", "{data}", "--out", "{read_only}/data"],
     "read_only is read-only"),
    ("evaluate-read-only-run", ["keras_fer.evaluate", "{read_only_run}", "--data", "{data}"],
     "read_only_run is read-only"),
    ("train-read-only", ["keras_fer.train", "--out", "{read_only}/run"], "read_only is read-only"),
    ("predict-read-only", ["keras_fer.predict", "{run}", "{image}", "--no-detect", "--out", "{read_only}/p"],
     "read_only is read-only"),
    ("export-read-only-run", ["keras_fer.export", "{read_only_run}"], "read_only_run is read-only"),
    # labels are never guessed; a release is read-only; an ensemble needs two members
    ("stats-numbered-folders-without-coding", ["keras_fer.data", "stats", "--data", "{numbered}"],
     "never guessed as emotions"),
    ("evaluate-into-a-release", ["keras_fer.evaluate", "{release}", "--data", "{data}", "--out",
                                 "{release}/eval"], "which is read-only"),
    ("ensemble-of-one", ["keras_fer.ensemble", "{run}", "--out", "{new}"], "at least 2 members"),
    # a run killed before its end (no meta.json) whose config.json implies other classes than
    # its model has outputs: never the seven default names
    ("evaluate-killed-run-unknown-classes", ["keras_fer.evaluate", "{killed}", "--data", "{data}"],
     "killed: no meta.json"),
    ("predict-killed-run-unknown-classes",
     ["keras_fer.predict", "{killed}", "{image}", "--no-detect", "--out", "{new}"], "killed: no meta.json"),
    # an unknown option is one line naming it, in every module
    ("data-unknown-option", ["keras_fer.data", "stats", "--bogus"], "unrecognized arguments: --bogus"),
    ("export-unknown-option", ["keras_fer.export", "{run}", "--bogus"], "unrecognized arguments: --bogus"),
    ("predict-unknown-option", ["keras_fer.predict", "{run}", "{image}", "--bogus"],
     "unrecognized arguments: --bogus"),
    ("augment-unknown-option", ["keras_fer.augment", "{}", "--bogus"], "unrecognized arguments: --bogus"),
    ("models-unknown-option", ["keras_fer.models", "list", "--bogus"], "unrecognized arguments: --bogus"),
    ("tuning-unknown-option", ["tuning", "--bogus"], "unrecognized arguments: --bogus"),
    # an ensemble follows train's and release's --out rules (issue 40)
    ("ensemble-into-other-files", ["keras_fer.ensemble", "{run}", "{corrupt}", "--out", "{data}",
                                   "--force"], "data: not a run directory (it holds fer2013.npz"),
    ("ensemble-inside-a-release", ["keras_fer.ensemble", "{run}", "{corrupt}", "--out",
                                   "{release}/ens"], "ens: inside the run or release"),
    ("ensemble-over-a-member", ["keras_fer.ensemble", "{run}", "{corrupt}", "--out", "{run}",
                                "--force"], "run: holds the member"),
    ("ensemble-over-a-release", ["keras_fer.ensemble", "{run}", "{corrupt}", "--out", "{release}"],
     "release: a released model is there; pass --force"),
    # killed runs: a corrupt resume state, an unfinished run released
    ("train-corrupt-resume-state", ["keras_fer.train", "--out", "{corrupt_resume}"],
     "resume.npz: corrupt resume state (BadZipFile"),
    ("release-a-killed-run", ["keras_fer.release", "{killed}", "--out", "{new}"],
     "killed: an unfinished run (no meta.json"),
    # predict never writes over an input, nor over a file without --force
    ("predict-output-over-an-input", ["keras_fer.predict", "{run}", "{videos}", "--no-detect",
                                      "--out", "{videos}", "--force"],
     "talk_annotated.mp4: an output would replace this input"),
    ("predict-output-exists", ["keras_fer.predict", "{run}", "{image}", "--no-detect", "--out",
                               "{prior}"], "predictions.json: exists"),
    ("tuning-dir-a-file", ["tuning", "--dir", "{file}"], "notes.txt is a file"),
    # FFmpeg's own "moov atom not found" stays off stderr: the one line is ours
    ("predict-video-cut-short", ["keras_fer.predict", "{run}", "{videos}/cut.mp4", "--no-detect"],
     "cut.mp4: cannot read video"),
    # time budgets: a negative one is named (not "expected one argument"), a huge one refused
    # before it becomes inf (an OverflowError after 2 epochs)
    ("train-negative-time-budget", ["keras_fer.train", "--time-budget", "-5m", "--out", "{new}"],
     "time_budget '-5m': expected a duration"),
    ("train-huge-time-budget", ["keras_fer.train", "--time-budget", "9" * 400 + "h", "--out",
                                "{new}"], "must be at most a year"),
    ("tuning-negative-time-budget", ["tuning", "--time-budget", "-5m"],
     "--time-budget '-5m': expected a duration"),
    ("tuning-huge-time-budget", ["tuning", "--time-budget", "9" * 400 + "h"],
     "must be at most a year"),
]

# TensorFlow's C++ logging, printed before any Python code of ours runs; not our error text
NATIVE_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} \d\d:\d\d:\d\d)")
READ_ONLY = ("read_only", "read_only_run")


def make_workspace(root: Path, run: Path, data) -> dict:
    """The entries a case's argv may name, created in ``root``."""
    import numpy as np

    from keras_fer.data import save_npz

    paths = {name: root / name for name in ("run", "release", "unfinished", "corrupt", "file",
                                             "zero_npz", "data", "image", "nan_config", "new",
                                             "experiment", "numbered", "corrupt_resume", "killed",
                                             "videos", "prior", *READ_ONLY)}
    for name in ("run", "release", "corrupt", "read_only_run", "killed"):
        shutil.copytree(run, paths[name])
    for name in ("meta.json", "summary.json"):  # a training killed before its end
        (paths["killed"] / name).unlink()
    config = json.loads((run / "config.json").read_text())
    (paths["killed"] / "config.json").write_text(json.dumps({**config, "drop_classes": ["disgust", "fear"]}))
    (paths["corrupt_resume"] / "ckpt").mkdir(parents=True)
    shutil.copy(run / "config.json", paths["corrupt_resume"] / "config.json")
    (paths["corrupt_resume"] / "ckpt" / "resume.npz").write_bytes(b"PK\x03\x04 cut short")
    paths["prior"].mkdir()
    (paths["prior"] / "predictions.json").write_text("[]\n")
    import cv2

    paths["videos"].mkdir()
    for name in ("talk.mp4", "talk_annotated.mp4"):
        writer = cv2.VideoWriter(str(paths["videos"] / name), cv2.VideoWriter_fourcc(*"mp4v"),
                                 10.0, (48, 48))
        for face in data.images[:3]:
            writer.write(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR))
        writer.release()
    whole = (paths["videos"] / "talk.mp4").read_bytes()
    (paths["videos"] / "cut.mp4").write_bytes(whole[:len(whole) // 2])  # no index (moov atom)
    (paths["release"] / "README.md").write_text("# Model card: a release\n")
    (paths["release"] / "eval").mkdir()
    (paths["release"] / "eval" / "report.json").write_text("{}\n")
    (paths["corrupt"] / "model.keras").write_bytes(b"not a zip archive")
    paths["unfinished"].mkdir()
    shutil.copy(run / "config.json", paths["unfinished"] / "config.json")
    paths["file"] = root / "notes.txt"
    paths["file"].write_text("notes\n")
    paths["zero_npz"] = root / "zero.npz"
    paths["zero_npz"].write_bytes(b"")
    save_npz(data, paths["data"] / "fer2013.npz")
    for name, images, labels, classes in (
            ("label_9", data.images, np.where(np.arange(len(data)) == 5, 9, data.labels), data.classes),
            ("6_classes", data.images, data.labels, data.classes[:6]),
            ("40x40", np.zeros((36, 40, 40), np.uint8), np.zeros(36, int), data.classes)):
        paths[f"npz_{name}"] = root / f"{name}.npz"
        np.savez(paths[f"npz_{name}"], images=images, labels=labels, splits=data.splits[:len(labels)],
                 classes=np.array(classes), paths=np.array([""] * len(labels)))
    paths["image"] = root / "face.png"
    from PIL import Image

    Image.fromarray(data.images[0]).save(paths["image"])
    for i, folder in enumerate(("1", "7")):  # RAF-DB's layout: train/1 .. train/7
        (paths["numbered"] / "train" / folder).mkdir(parents=True)
        Image.fromarray(data.images[i]).save(paths["numbered"] / "train" / folder / "a.png")
    paths["nan_config"] = root / "nan.json"
    paths["nan_config"].write_text('{"optimizer": {"name": "sgd", "learning_rate": 0.01, '
                                   '"momentum": NaN}}')
    paths["experiment"] = root / "tiny.json"
    paths["experiment"].write_text(json.dumps({
        "name": "tiny", "base": {"model": "baseline", "epochs": 1},
        "runs": [{"name": "sgd", "overrides": {}}]}))
    committed = root / "experiments" / "results" / "tiny"
    committed.mkdir(parents=True)
    (committed / "results.json").write_text('{"chosen": "sgd"}\n')
    (committed / "table.md").write_text("| run |\n")
    paths["read_only"].mkdir()
    (paths["read_only"] / "keep.txt").write_text("keep\n")
    for name in READ_ONLY:
        paths[name].chmod(0o555)
    return paths


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _without_root_override():
    """In the child: drop root's power to write anywhere (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH leave the bounding set, so exec does not grant them), so that a
    read-only folder is read-only to it as it is to any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _can_drop_root_override() -> bool:
    probe = subprocess.run([sys.executable, "-c", ""], preexec_fn=_without_root_override)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def drop_override():
    """A preexec_fn that makes read-only folders read-only to this process's children, or None
    when nothing needs doing (not root); skips when root cannot drop the override."""
    if os.geteuid() != 0:
        return None
    try:
        if _can_drop_root_override():
            return _without_root_override
    except (OSError, subprocess.SubprocessError):
        pass
    pytest.skip("running as root without CAP_SETPCAP: a read-only folder is writable to root")


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(argv, fragment, tiny_run, tiny_data,
                                                          tmp_path, request):
    root = tmp_path / "work"
    root.mkdir()
    paths = make_workspace(root, tiny_run, tiny_data)
    preexec = None
    if any(f"{{{name}}}" in arg for arg in argv for name in READ_ONLY):
        preexec = request.getfixturevalue("drop_override")
    args = [re.sub(r"\{(\w+)\}", lambda m: str(paths[m.group(1)]), arg) for arg in argv]
    before = snapshot(root)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="3")
    try:
        proc = subprocess.run([sys.executable, "-m", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=300, preexec_fn=preexec)
    finally:
        for name in READ_ONLY:
            paths[name].chmod(0o755)
    lines = [line for line in proc.stderr.splitlines() if not NATIVE_LOG.match(line)]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr and "\x1b[" not in proc.stderr
    after = snapshot(root)
    assert {k: after.get(k) for k in before} == before
