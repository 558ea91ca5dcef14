"""``python -m keras_fer.release RELEASE --card-only --force``: the model card of an existing
release rendered again from its own files (its run gone), nothing else changed; on a copy of the
shipped release's small files (its model files replaced by a stub)."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from keras_fer.release.cli import main
from tests.release.test_card import ABSOLUTE, read_header

SHIPPED = Path(__file__).resolve().parents[2] / "saved_models" / "best"
SMALL = ("README.md", "config.json", "meta.json", "summary.json", "release.json", "history.csv",
         "eval/report.json", "eval/report_tencrop.json", "export/parity.json", "export/labels.txt",
         *sorted(str(p.relative_to(SHIPPED)) for p in SHIPPED.glob("lineage/*.json")))
pytestmark = pytest.mark.skipif(not (SHIPPED / "release.json").is_file(), reason="no release shipped")


@pytest.fixture
def release(tmp_path, monkeypatch):
    """saved_models/best under tmp_path (the current folder): the shipped release's small files
    and a stub model.keras (a zip, as a run directory's must be)."""
    out = tmp_path / "saved_models" / "best"
    for name in SMALL:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SHIPPED / name, out / name)
    with zipfile.ZipFile(out / "model.keras", "w") as z:
        z.writestr("config.json", "{}")
    monkeypatch.chdir(tmp_path)
    return out


def files(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def section(card, title) -> str:
    return card.split(f"\n{title}\n")[1].split("\n## ")[0]


def test_shipped_card_is_what_its_files_render(release):
    """The shipped card is current: rendering it again from the release's files changes no byte
    of it (its Notes, recipe, lineage CPU-hours and release date kept), nor of any other file."""
    before = files(release)
    assert main(["saved_models/best", "--card-only", "--force"]) == 0
    assert files(release) == before


OLD_OUTPUT = "| output | 7 classes: angry, disgust, fear, happy, sad, surprise, neutral |"


def test_an_old_card_gets_header_license_logits_and_loses_local_paths(release):
    old = (SHIPPED / "README.md").read_text(encoding="utf-8")
    old = old[old.index("# Model card"):]  # an old card: no header, no license, a local path
    old = old.split("\n## License\n")[0].replace("`runs/best` (its", "`/root/fer_runs/best` (its")
    old = old.replace('"init_from": "runs/best"', '"init_from": "/root/fer_runs/best"')
    old = "\n".join(OLD_OUTPUT if line.startswith("| output |") else line
                    for line in old.splitlines() if not line.startswith("| license |")) + "\n"
    old = old.replace(section(old, "## Notes"), "\nOld notes, *kept*.\n\n| a | b |\n")
    old = old.replace("--config recipes/cpu_x075_selfkd.json", "--config recipes/elsewhere.json")
    # the CPU-hours of runs since gone, which only an old card records
    old = old.replace("recipes in `lineage/` |", "recipes in `lineage/`; 7.25 training CPU-hours with them |")
    assert "7.25 training" in old and "--config recipes/elsewhere.json" in old
    assert ABSOLUTE.search(old) and "logits" not in old  # the fixture is an old card
    (release / "README.md").write_text(old, encoding="utf-8")
    marker = (release / "release.json").read_text(encoding="utf-8")
    marker = marker.replace('"released": "2026-12-06', '"released": "2026-11-30')
    (release / "release.json").write_text(marker, encoding="utf-8")
    before = files(release)

    assert main(["saved_models/best", "--card-only", "--force"]) == 0
    card = (release / "README.md").read_text(encoding="utf-8")
    assert files(release) == {**before, "README.md": card.encode()}  # only the card changed
    header = read_header(card)
    assert header["license"] == "apache-2.0" and header["datasets"] == ["fer2013"]
    assert [m["value"] for m in header["model-index"][0]["results"][0]["metrics"]] == [0.6799, 0.6502, 0.6907]
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(card.split("---\n")[1]) == header
    assert ABSOLUTE.search(card) is None, ABSOLUTE.search(card)
    assert "`model.keras` outputs **logits**" in card and "cannot grant rights in FER2013" in card
    assert section(card, "## Notes") == "\nOld notes, *kept*.\n\n| a | b |\n"
    assert ("--config recipes/elsewhere.json --init-from runs/best --teacher runs/best --data data "
            "--out runs/release") in card
    assert "| made from | `x075`, `best`; recipes in `lineage/`; 7.25 training CPU-hours with them |" in card
    assert "| released | 2026-11-30 |" in card  # release.json's date, not the card's or today's
    # every figure is the old card's: its lines all remain, but the path and the output row
    gone = set(old.splitlines()) - set(card.splitlines())
    assert gone == {OLD_OUTPUT,
                    "| fine-tuned from | `/root/fer_runs/best` (its weights start the training) |",
                    ' "init_from": "/root/fer_runs/best",', "| released | 2026-12-06 |"}


def test_notes_and_recipe_flags_replace_the_old_cards(release, tmp_path):
    (tmp_path / "notes.md").write_text("New notes.\n\n## A heading of the notes\n\nMore.\n")
    (tmp_path / "r.json").write_text("{}")
    assert main(["saved_models/best", "--card-only", "--force", "--notes", "notes.md",
                 "--recipe", "r.json"]) == 0
    card = (release / "README.md").read_text(encoding="utf-8")
    assert "## Notes\n\nNew notes.\n\n## A heading of the notes\n\nMore.\n\n## Data\n" in card
    assert "--config r.json --init-from" in card
    assert main(["saved_models/best", "--card-only", "--force"]) == 0  # then kept, whole
    assert (release / "README.md").read_text(encoding="utf-8") == card


def run_cli(*args):
    """The CLI in a fresh process: its exit code, stderr, and the Keras/TensorFlow modules it
    imported (none: a card needs no Keras)."""
    code = ("import sys; from keras_fer.release.cli import main; rc = main(sys.argv[1:]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'))); "
            "sys.exit(rc)")
    root = str(Path(__file__).resolve().parents[2])
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"})
    return p.returncode, p.stderr, p.stdout.splitlines()[-1]


def test_refuses_without_force_or_a_release_and_imports_no_keras(release, tmp_path):
    before = files(release)
    rc, err, _ = run_cli("saved_models/best", "--card-only")
    assert (rc, err) == (2, "error: saved_models/best: a release changes only with --force; "
                            "pass it to re-render its README.md\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    rc, err, _ = run_cli("run", "--card-only", "--force")
    assert rc == 2 and err.startswith("error: run: not a release") and err.count("\n") == 1
    assert files(release) == before
    rc, err, modules = run_cli("saved_models/best", "--card-only", "--force")
    assert (rc, err, modules) == (0, "", "[]")
    assert files(release) == before  # the shipped card is current: the same bytes
