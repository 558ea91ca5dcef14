"""Export writes only what it is asked for, never removes what is there, needs its optional
package up front, and treats a release as read-only."""
import json
import shutil
from pathlib import Path

import pytest

from keras_fer.export import export_run
from keras_fer.export.cli import main


def _fake():
    from importlib import import_module

    return import_module("keras_fer_tests_fake_run")  # loaded by conftest.py


def snapshot(folder) -> dict:
    """Every file under ``folder`` (relative path -> bytes)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _export(run_dir, out, formats):
    faces = _fake().synthetic_faces(48, seed=7)[0]
    return export_run(run_dir, out=out, formats=formats, representative=faces,
                      parity_images=faces, source="synthetic", log=lambda line: None)


def test_tflite_only_keeps_an_existing_savedmodel_and_parity_describes_the_folder(run_dir, tmp_path):
    fresh = tmp_path / "fresh"
    report = _export(run_dir, fresh, ["tflite"])
    assert sorted(p.name for p in fresh.iterdir()) == [
        "labels.txt", "model_float16.tflite", "model_int8.tflite", "parity.json"]
    parity = json.loads((fresh / "parity.json").read_text())
    assert "savedmodel" not in parity and parity["tflite_int8"]["ok"] and parity["images"] == 48
    assert sorted(report["files"]) == ["labels", "tflite_float16", "tflite_int8"]

    both = tmp_path / "both"
    _export(run_dir, both, ["savedmodel"])
    before = snapshot(both / "savedmodel")
    report = _export(run_dir, both, ["tflite"])
    assert snapshot(both / "savedmodel") == before  # not deleted, not rewritten
    assert sorted(p.name for p in both.iterdir()) == [
        "labels.txt", "model_float16.tflite", "model_int8.tflite", "parity.json", "savedmodel"]
    parity = json.loads((both / "parity.json").read_text())
    assert parity["savedmodel"]["ok"] and parity["tflite_float16"]["top1_agreement"] > 0.9
    assert "savedmodel" not in report["files"]


def test_onnx_without_its_packages_is_exit_2_with_the_pip_command_and_writes_nothing(
        run_dir, tmp_path, capsys, monkeypatch):
    from keras_fer.export import tflite

    monkeypatch.setattr(tflite, "onnx_missing", lambda: ["tf2onnx", "onnxruntime"])
    out = tmp_path / "x"
    assert main([str(run_dir), "--format", "savedmodel,onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --format onnx needs tf2onnx, onnxruntime, which are not installed: "
                   'pip install "keras_fer[onnx]" (in a checkout: pip install -r '
                   "requirements-onnx.txt)"]
    assert not out.exists()
    from keras_fer.errors import UserError

    monkeypatch.setattr(tflite, "onnx_missing", lambda: ["tf2onnx"])
    with pytest.raises(UserError, match=r"needs tf2onnx, which is not installed: pip install "):
        export_run(run_dir, out=out, formats=["onnx"])
    assert not out.exists()


def make_release(run_dir, path, marker=True) -> Path:
    """A copy of ``run_dir`` that is a release: with release.json, or (as a release made before
    the marker, like the shipped one) with only its model card."""
    shutil.copytree(run_dir, path)
    (path / "README.md").write_text("# Model card: `tiny` on FER2013\n")
    (path / "export").mkdir()
    (path / "export" / "parity.json").write_text('{"ok": true, "images": 656}\n')
    if marker:
        (path / "release.json").write_text('{"run": "runs/tiny"}\n')
    return path


@pytest.mark.parametrize("marker", [True, False])
def test_exporting_a_release_writes_elsewhere_and_never_into_it_without_force(
        run_dir, tmp_path, capsys, monkeypatch, marker):
    monkeypatch.chdir(tmp_path)
    release = make_release(run_dir, tmp_path / "best", marker=marker)
    before = snapshot(release)
    assert main([str(release), "--format", "keras"]) == 0
    assert snapshot(release) == before
    copied = tmp_path / "runs" / "export" / "best" / "model.keras"
    assert copied.read_bytes() == (run_dir / "model.keras").read_bytes()
    capsys.readouterr()

    assert main([str(release), "--format", "keras", "--out", str(release / "export")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {release / 'export'}: inside the release {release}, which is "
                   "read-only: write elsewhere with --out, or pass --force to change the release"]
    assert snapshot(release) == before
    assert main([str(release), "--format", "keras", "--force"]) == 0  # the user says so
    assert (release / "export" / "model.keras").is_file()
    assert (release / "export" / "parity.json").read_bytes() == before["export/parity.json"]


@pytest.mark.parametrize("where", ["tflite", "parity"])
def test_a_full_disk_is_one_line_and_leaves_no_artefact_without_parity(run_dir, tmp_path, capsys,
                                                                       monkeypatch, where):
    import errno

    from keras_fer.export import cli, core

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # after the SavedModel was written: at the TFLite conversion, or at parity.json
    monkeypatch.setattr(core, {"tflite": "write_tflite", "parity": "write_json"}[where], full)
    faces = _fake().synthetic_faces(14)[0]
    monkeypatch.setattr(cli, "load_images", lambda *a: (faces, faces, "synthetic"))
    out = tmp_path / "x"
    assert main([str(run_dir), "--format", "savedmodel,tflite", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {out}: no space left on the device (disk full); the partial "
                       "files were removed: free some space and run again")
    assert list(out.iterdir()) == []  # no savedmodel/ without parity.json, no temporary
