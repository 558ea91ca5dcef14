"""Releasing a run as saved_models/best: the files, a card whose numbers are the reports', an
evaluation of the release that reproduces them, the export of a mixed-precision model, and the
rules that keep an existing release and everything else safe (--force replaces a release only,
atomic swap, the size limit)."""
import json
import re
import shutil
import zipfile

import pytest

from keras_fer import rundir
from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.release import MAX_BYTES, folder_bytes, make_release
from keras_fer.release.card import render_card
from keras_fer.release.cli import main
from tests.release.conftest import report_of as _report

EVERY = {"PublicTest": 8, "PrivateTest": 5}  # every 8th / 5th test image wears a wrong cue
# the baseline CNN's two blocks at half their width (16 and 32 filters): a quarter of its
# multiply-adds, for the module's training, evaluations and exports
HALF = [{"filters": 16, "kernel_size": 3, "convs": 2, "pool": "max"},
        {"filters": 32, "kernel_size": 3, "convs": 2, "pool": "max"}]


def mark(images, cues):
    """Each face with its cue painted on: class k a white 6x6 square in row k // 2 (y 4, 16, 28
    or 40), in the middle (k even) or as a pair at both sides (k odd), so that a horizontal flip
    keeps it."""
    out = images.copy()
    for image, k in zip(out, cues):
        top = 4 + 12 * (k // 2)
        for left in ((21,) if k % 2 == 0 else (6, 36)):
            image[top:top + 6, left:left + 6] = 255
    return out


@pytest.fixture(scope="module")
def cued(fer_small):
    """fer_small's faces, each with its class's cue (``mark``), except every 8th PublicTest and
    every 5th PrivateTest image, which wear the next class's: 10 epochs of the baseline CNN at
    half its width (``HALF``) learn the cue with clear margins (accuracy 0.84-0.85 of the 0.875
    possible on PublicTest, median top-two gap 0.86-0.89, seeds 0 and 1; 0.76 and 0.43 for seed
    4, on a Zen 2 EPYC) and its int8 export disagreed with it on 0-3 of the 280 PublicTest
    images (1 for seed 0, the fixture's), while the splits keep different figures (the whole
    baseline: 0.84-0.87, 0 disagreements, in twice the training time). A cue
    of brightness bands (the faces dimmed, brightened by 36 grey levels a class) made an int8
    export that disagreed on 1 to 73 of 280 images, by seed, batch size and precision: int8's
    per-tensor scales, set by the brightest class, left the darkest coarse."""
    import numpy as np

    from keras_fer.data import FERData

    cues = fer_small.labels.copy()
    for split, every in EVERY.items():
        wrong = np.nonzero(fer_small.splits == split)[0][::every]
        cues[wrong] = (cues[wrong] + 1) % 7
    return FERData(mark(fer_small.images, cues), fer_small.labels, fer_small.splits,
                   fer_small.classes)


@pytest.fixture(scope="module")
def fer_small_dir(cued, tmp_path_factory):
    """``cued`` with 20 of the 40 PrivateTest images of each of its first four classes: a
    PrivateTest of other figures than PublicTest's even where the model answers one class for
    every image, so that a card (or a report) that shows one split's figures for the other's
    fails the tests."""
    import numpy as np

    from keras_fer.data import save_npz

    private = np.nonzero(cued.splits == "PrivateTest")[0]
    drop = [i for c in range(4) for i in private[cued.labels[private] == c][20:]]
    folder = tmp_path_factory.mktemp("release_data")
    save_npz(cued.select(np.setdiff1d(np.arange(len(cued)), drop)), folder / "fer2013.npz")
    return folder


@pytest.fixture(scope="module")
def run_dir(cued, fer_small_dir, tmp_path_factory):
    """10 epochs of the baseline CNN, saved as a mixed-precision model like the GPU recipe's:
    the export of a mixed model is under test. It trains in float32 and its weights are saved in
    the mixed model (evaluation and export compute a mixed model's float32 copy): a mixed
    training would be emulated on a CPU without bfloat16, 3 of the fixture's 3.5 minutes on a
    Zen 2 EPYC."""
    from keras_fer import rundir
    from keras_fer.io_utils import write_json
    from keras_fer.train import build_net, run

    out = tmp_path_factory.mktemp("run") / "run"
    cfg = TrainConfig(model="baseline", model_args={"blocks": HALF}, epochs=10, batch_size=16,
                      mixed_precision=False, optimizer={"name": "adam", "learning_rate": 1e-3},
                      data=str(fer_small_dir), tensorboard=False, verbose=0, out=str(out))
    run(cfg, cued)
    mixed = build_net(cfg.replace(mixed_precision=True), len(cued.classes))
    mixed.set_weights(rundir.load_model(out).get_weights())
    mixed.save(out / rundir.MODEL_FILE)
    write_json(out / rundir.CONFIG_FILE, rundir.read_config(out).replace(mixed_precision=True).to_dict())
    assert "mixed_bfloat16" in {layer.dtype_policy.name
                                for layer in rundir.load_model(out, float32=False).layers}
    return out


@pytest.fixture(scope="module")
def release(run_dir, fer_small_dir, tmp_path_factory):
    notes = "Trained for the tests."
    return make_release(run_dir, tmp_path_factory.mktemp("rel") / "best", data=str(fer_small_dir),
                        notes=notes, log=lambda line: None)


def _replay(monkeypatch, release, failures=(), export=True):
    """make_release's evaluation and export replayed from ``release`` (the fixture's real one,
    same model and data): for the tests whose assertions are about the folder rules, the CLI or
    the card, not a second minute of evaluating and exporting. ``failures``: the parity check's
    verdict becomes a failure with these; ``export=False`` replays the evaluation only."""
    import keras_fer.evaluate
    import keras_fer.export.core as export_core
    from keras_fer.evaluate import report_path

    def evaluate_run(run_dir, *args, tta="none", **kwargs):
        shutil.copytree(release / "eval", run_dir / "eval", dirs_exist_ok=True)
        return json.loads(report_path(release, tta).read_text())

    def export_run(run_dir, out, *args, **kwargs):
        shutil.copytree(release / "export", out, dirs_exist_ok=True)
        report = json.loads((out / "parity.json").read_text())
        return dict(report, ok=False, failures=list(failures)) if failures else report

    monkeypatch.setattr(keras_fer.evaluate, "evaluate_run", evaluate_run)
    if export:
        monkeypatch.setattr(export_core, "export_run", export_run)


def test_release_holds_the_run_reports_export_and_card(release, run_dir):
    for name in ("model.keras", "config.json", "meta.json", "history.csv", "curves.png",
                 "summary.json", "README.md", "eval/report.json", "eval/report_tencrop.json",
                 "eval/confusion_PrivateTest.png", "eval/confusion_PublicTest_tencrop.png",
                 "export/savedmodel/saved_model.pb", "export/model_float16.tflite",
                 "export/model_int8.tflite", "export/parity.json", "export/labels.txt"):
        assert (release / name).is_file(), name
    assert (release / "model.keras").read_bytes() == (run_dir / "model.keras").read_bytes()
    assert 0 < folder_bytes(release) <= MAX_BYTES
    assert not list(release.parent.glob(".best.*"))  # no staging left behind
    assert rundir.read_meta(release)["device"]  # the card's "trained on" comes from here
    marker = json.loads((release / "release.json").read_text())
    assert marker["run"] == str(run_dir) and marker["formats"] == ["savedmodel", "tflite"]
    assert rundir.is_release(release) and not rundir.is_release(run_dir)


def test_mixed_precision_model_exports_with_exact_savedmodel_parity(release):
    parity = json.loads((release / "export" / "parity.json").read_text())
    assert parity["savedmodel"]["max_abs_diff"] <= 1e-5 and parity["savedmodel"]["ok"]
    assert parity["tflite_int8"]["disagreements"] <= 3  # the cue's margins (0 measured)
    assert parity["images"] == 280  # 40 per class of PublicTest


def test_card_numbers_are_the_reports(release, fer_small):
    card = (release / "README.md").read_text()
    for name, mode in (("report.json", "none"), ("report_tencrop.json", "tencrop")):
        report = json.loads((release / "eval" / name).read_text())
        assert report["tta"] == mode and report["run"] == str(release)
        for split, m in report["splits"].items():
            row = (f"| {split} | {mode} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
                   f"{m['weighted_f1']:.4f} | {m['average_accuracy']:.4f} | {m['n']:,} |")
            assert row in card
            assert m["n"] == {"PublicTest": 280, "PrivateTest": 200}[split]
    private = json.loads((release / "eval" / "report.json").read_text())["splits"]["PrivateTest"]
    public = json.loads((release / "eval" / "report.json").read_text())["splits"]["PublicTest"]
    tencrop = json.loads((release / "eval" / "report_tencrop.json").read_text())["splits"]
    # the headline is PrivateTest's: the test could not tell it from PublicTest's figures if
    # they were the same (the split sizes differ, 280 and 200, yet tencrop's accuracies were
    # once both 0.6000: the pair of accuracy and macro-F1 must differ)
    for a, b in ((public, private), (tencrop["PublicTest"], tencrop["PrivateTest"])):
        assert (f"{a['accuracy']:.4f}", f"{a['macro_f1']:.4f}") != \
            (f"{b['accuracy']:.4f}", f"{b['macro_f1']:.4f}")
    assert (f"PrivateTest accuracy **{private['accuracy']:.4f}** (macro-F1 "
            f"{private['macro_f1']:.4f}) without test-time augmentation, "
            f"**{tencrop['PrivateTest']['accuracy']:.4f}** with tencrop.") in card
    for name in fer_small.classes:
        c = private["per_class"][name]
        assert f"| {name} | {c['support']} | {c['precision']:.3f} | {c['recall']:.3f} |" in card
    assert "280 Training images train; 280 PublicTest images" in card
    hours = json.loads((release / "summary.json").read_text())["train_cpu_hours"]
    assert f", {hours:.2f} CPU-hours (process CPU time, all cores) |" in card
    assert "## Notes\n\nTrained for the tests.\n\n## Data" in card  # status first, then the data
    # the release's folder by its name: the card names no folder of the machine it was made on
    assert f"python -m keras_fer.evaluate {release.name} --data" in card
    assert str(release.parent) not in card


def test_evaluating_the_release_reproduces_its_report(release, fer_small_dir, tmp_path):
    from keras_fer.evaluate import evaluate_run

    before = (release / "eval" / "report.json").read_bytes()
    shipped = json.loads(before)
    again = evaluate_run(release, data=str(fer_small_dir), verbose=False, out=tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["splits"] == again["splits"]
    assert (release / "eval" / "report.json").read_bytes() == before
    for split in ("PublicTest", "PrivateTest"):
        assert again["splits"][split]["confusion"] == shipped["splits"][split]["confusion"]
        assert again["splits"][split]["accuracy"] == shipped["splits"][split]["accuracy"]


def test_existing_release_needs_force_and_is_swapped_whole(release, run_dir, fer_small_dir, capsys,
                                                            monkeypatch):
    _replay(monkeypatch, release)
    target = release.parent / "copy"
    shutil.copytree(release, target)
    (target / "README.md").write_text("old card")
    code = main([str(run_dir), "--out", str(target), "--data", str(fer_small_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == (
        f"error: {target}: a model is already released there; pass --force to replace it")
    assert (target / "README.md").read_text() == "old card"
    assert main([str(run_dir), "--out", str(target), "--data", str(fer_small_dir), "--force"]) == 0
    assert (target / "README.md").read_text().split("---\n")[2].startswith(
        "# Model card: `baseline` on FER2013")  # after the YAML header
    assert sorted(p.name for p in target.parent.iterdir() if p.name.startswith(".")) == []


def _snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_force_replaces_a_release_never_a_folder_of_runs_or_the_run(tmp_path, capsys):
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        (runs / name).mkdir(parents=True)
        with zipfile.ZipFile(runs / name / "model.keras", "w") as z:  # passes the zip check
            z.writestr("config.json", name)
    run, before = runs / "a", _snapshot(runs)
    for out, why in ((runs, f"holds the run {run} being released; choose a new --out"),
                     (runs / "b", "not a release (no release.json or model card) but a folder "
                                  "with files; --force replaces only a release: choose a new --out"),
                     (run, "not a release (no release.json or model card)")):
        assert main([str(run), "--out", str(out), "--force"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {out}: {why}")
        with pytest.raises(UserError, match=re.escape(why)):
            make_release(run, out, force=True, log=lambda line: None)
    assert _snapshot(runs) == before


def test_too_big_a_release_fails_and_keeps_the_old_one(release, run_dir, fer_small_dir, monkeypatch):
    import keras_fer.release.core as rel  # the module whose globals make_release reads

    _replay(monkeypatch, release)
    monkeypatch.setattr(rel, "release_formats", lambda *a: ("savedmodel", "tflite"))
    monkeypatch.setattr(rel, "MAX_BYTES", 1000)
    before = (release / "README.md").read_text()
    with pytest.raises(UserError, match=r"the release would be [\d.]+ MB, over the 0 MB limit"):
        make_release(run_dir, release, data=str(fer_small_dir), force=True, log=lambda line: None)
    assert (release / "README.md").read_text() == before
    assert not [p for p in release.parent.iterdir() if p.name.startswith(".")]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'nope'}: no such run directory (train one with python -m keras_fer.train)")


def test_card_names_weak_classes_and_what_they_are_taken_for():
    # a: 9/10 right; b: 2/10 right, 6 taken for c; c: 8/10 right
    report = _report([[9, 1, 0], [2, 2, 6], [1, 1, 8]])
    card = render_card(meta={}, summary={}, config=TrainConfig(), reports={"none": report, "flip": report},
                       parity={}, out="saved_models/best", data="data")
    limits = card.split("## Known limits")[1]
    assert re.search(r"Weak classes: b \(PrivateTest F1 0\.\d\d, recall 0\.20, 10 images; "
                     r"most often taken for c: 60%\)\.", limits)
    assert "a (PrivateTest" not in limits and "c (PrivateTest" not in limits


def test_card_says_where_int8_disagrees_and_what_the_check_asks():
    report = _report([[9, 1, 0], [2, 2, 6], [1, 1, 8]])
    parity = {"images": 656, "source": "data", "tflite_int8": {
        "top1_agreement": 0.9832, "clear_images": 640, "clear_agreement": 0.984375,
        "near_tie": 0.05, "min_agreement": 0.99, "min_agreement_all": 0.95, "ok": False,
        "disagreements": 11, "disagreement_gap_median": 0.0076, "disagreement_gap_max": 0.5}}
    card = render_card(meta={}, summary={}, config=TrainConfig(), reports={"none": report, "flip": report},
                       parity=parity, out="saved_models/best", data="data")
    assert ("- TFLite int8: top-1 agreement 98.32% (98.44% on the 640 images where the float "
            "model's top two probabilities are at least 0.05 apart; the check asks for 99.00% "
            "there and 95.00% overall; 11 images differ, where the float model's top two "
            "probabilities are a median 0.008 apart): FAILS: prefer the SavedModel or float16.") in card
    parity["tflite_int8"].update(ok=True, clear_agreement=1.0, disagreements=0)
    card = render_card(meta={}, summary={}, config=TrainConfig(), reports={"none": report, "flip": report},
                       parity=parity, out="saved_models/best", data="data")
    assert ("- TFLite int8: top-1 agreement 98.32% (100.00% on the 640 images where the float "
            "model's top two probabilities are at least 0.05 apart; the check asks for 99.00% "
            "there and 95.00% overall): passes.") in card


def test_size_limit_decides_tflite_before_any_work(tmp_path, monkeypatch):
    import keras_fer.release.core as rel  # the module whose globals make_release reads

    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"x" * 1000)
    monkeypatch.setattr(rel, "MAX_BYTES", 2750)
    assert rel.release_formats(model_file, log=lambda line: None) == ("savedmodel", "tflite")
    monkeypatch.setattr(rel, "MAX_BYTES", 2749)
    lines = []
    assert rel.release_formats(model_file, log=lines.append) == ("savedmodel",)
    assert lines and lines[0].startswith("TFLite left out of the release")
    monkeypatch.setattr(rel, "MAX_BYTES", 1999)
    with pytest.raises(UserError, match=r"model.keras: 0.0 MB; a release holds it twice"):
        rel.release_formats(model_file)


def test_an_ensemble_releases_with_its_members_recipes(release, run_dir, fer_small_dir, tmp_path,
                                                      monkeypatch):
    from keras_fer.ensemble.core import write_ensemble

    twin = tmp_path / "twin"
    shutil.copytree(run_dir, twin)
    ens = write_ensemble([run_dir, twin], tmp_path / "ens")
    # the lineage, the card and the ensemble's export are the subject: the evaluation is
    # replayed (an ensemble's predictions are tests/ensemble's)
    _replay(monkeypatch, release, export=False)
    out = make_release(ens, tmp_path / "best", data=str(fer_small_dir), log=lambda line: None)
    assert sorted(p.name for p in (out / "lineage").iterdir()) == ["run.json", "twin.json"]
    assert json.loads((out / "lineage" / "twin.json").read_text())["model"] == "baseline"
    card = (out / "README.md").read_text()
    assert (f"python -m keras_fer.ensemble runs/run runs/twin --out runs/release\n"
            f"python -m keras_fer.release runs/release --data {fer_small_dir.name}") in card
    assert "# Model card: `ensemble` on FER2013" in card and "No recipe of its own" in card


def test_a_killed_releases_staging_folder_is_removed_by_the_next_never_a_live_ones(tmp_path):
    import os
    import subprocess
    import sys

    from keras_fer.release.core import remove_stale_stages

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead, live = int(done.stdout), os.getpid()  # the child has exited: its pid is gone
    out = tmp_path / "best"
    for pid in (dead, live):
        (tmp_path / f".best.tmp-{pid}").mkdir()
        (tmp_path / f".best.tmp-{pid}" / "model.keras").write_bytes(b"x")
    (tmp_path / ".other.tmp-1").mkdir()  # another release's name: not ours to touch
    assert remove_stale_stages(out) == [tmp_path / f".best.tmp-{dead}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f".best.tmp-{live}", ".other.tmp-1"])


def test_a_failed_parity_check_is_not_released_without_force(run_dir, fer_small_dir, tmp_path,
                                                             monkeypatch):
    import keras_fer.evaluate
    import keras_fer.export.core as export_core

    # only the verdict matters here: no minute of evaluating and exporting
    monkeypatch.setattr(keras_fer.evaluate, "evaluate_run", lambda *a, **k: {"splits": {}})
    monkeypatch.setattr(export_core, "export_run", lambda *a, **k: {
        "ok": False, "failures": ["TFLite int8: top-1 agreement 41.0% < 90%"]})
    with pytest.raises(UserError, match=r"its export fails the parity check \(TFLite int8: top-1 "
                                        r"agreement 41.0% < 90%\); not released: pass --force"):
        make_release(run_dir, tmp_path / "best", data=str(fer_small_dir), log=lambda line: None)
    assert list(tmp_path.iterdir()) == []  # no release, no staging folder


def test_an_unfinished_run_is_refused_and_force_says_why_on_the_card(release, run_dir, fer_small_dir,
                                                                     tmp_path, monkeypatch, capsys):
    killed = tmp_path / "killed"
    shutil.copytree(run_dir, killed)
    (killed / "meta.json").unlink()  # a training killed before its end writes none
    before = _snapshot(tmp_path)
    assert main([str(killed), "--out", str(tmp_path / "best")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {killed}: an unfinished run (no meta.json: its training was killed "
                   "before its end?); finish it (run its training again), or pass --force to "
                   "release it anyway"]
    assert _snapshot(tmp_path) == before
    _replay(monkeypatch, release, failures=["TFLite int8: top-1 agreement 41.0% < 90%"])
    out = make_release(killed, tmp_path / "best", data=str(fer_small_dir), force=True,
                       log=lambda line: None)
    card = (out / "README.md").read_text().splitlines()
    title = next(i for i, line in enumerate(card) if line.startswith("# Model card"))
    assert card[title + 2:title + 4] == [  # at the top, under the title (after the YAML header)
        f"> **WARNING: {killed} is an unfinished run (no meta.json: its training was killed before "
        "its end?); released with --force.**",
        "> **WARNING: the export fails its parity check (TFLite int8: top-1 agreement 41.0% < "
        "90%); released with --force.**"]
    assert len(json.loads((out / "release.json").read_text())["warnings"]) == 2


def test_a_full_disk_fails_the_release_in_one_line_and_keeps_the_old_one(release, run_dir,
                                                                          monkeypatch, capsys):
    import errno

    import keras_fer.release.core as rel

    before = _snapshot(release)

    def copy2(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rel.shutil, "copy2", copy2)
    assert main([str(run_dir), "--out", str(release), "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {release}: no space left on the device (disk full); "
                       "the partial files were removed: free some space and run again")
    assert _snapshot(release) == before
    assert not [p for p in release.parent.iterdir() if p.name.startswith(".")]


def test_a_run_without_some_classes_is_evaluated_without_them(run_dir, tmp_path, monkeypatch):
    # release has no --drop-classes: it drops what the run's own config dropped
    import keras_fer.evaluate

    run = shutil.copytree(run_dir, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "drop_classes": ["disgust"]}))
    seen = []

    def evaluate_run(*args, **kwargs):
        seen.append(kwargs.get("drop_classes"))
        raise UserError("stop here")

    monkeypatch.setattr(keras_fer.evaluate, "evaluate_run", evaluate_run)
    with pytest.raises(UserError, match="stop here"):
        make_release(run, tmp_path / "best", data=config["data"], log=lambda line: None)
    assert seen == [["disgust"]]
