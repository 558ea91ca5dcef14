"""The model card's YAML header (license, datasets, metrics, library; it parses, with PyYAML where
installed and with the minimal reader below either way), its license statement, its output's
logits, and no local path of the machine that made it."""
import json
import re

import pytest

from keras_fer.config import TrainConfig
from keras_fer.release.card import render_card
from tests.release.conftest import report_of

# An absolute POSIX path of two or more parts (/root/fer_runs/x075), not a relative one's tail
ABSOLUTE = re.compile(r"(?<![\w.\])}>/-])/[A-Za-z_][\w.-]*/[\w.-]+")


def read_header(card) -> dict:
    """The minimal reader of the header's form: ``---``, ``key: value`` lines whose values are
    plain text or JSON, ``---``."""
    lines = card.splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    header = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(": ")
        assert sep and key and key not in header, line
        header[key] = json.loads(value) if value[:1] in "[{" else value
    return header


def card_of(config, steps=(), **kwargs):
    plain = report_of([[9, 1, 0], [2, 2, 6], [1, 1, 8]])
    tencrop = report_of([[10, 0, 0], [2, 3, 5], [1, 1, 8]])
    parity = {"images": 30, "source": "data", "tflite_int8": {
        "top1_agreement": 1.0, "clear_images": 30, "clear_agreement": 1.0, "near_tie": 0.05,
        "min_agreement": 0.99, "min_agreement_all": 0.95, "ok": True, "disagreements": 0}}
    args = dict(meta={"model": "vgg13", "input_shape": [44, 44, 1]}, summary={}, config=config,
                reports={"none": plain, "tencrop": tencrop}, parity=parity,
                out="saved_models/best", data="data", lineage=steps)
    return render_card(**{**args, **kwargs}), plain, tencrop


def test_header_parses_and_names_license_data_metrics_library():
    card, plain, tencrop = card_of(TrainConfig())
    header = read_header(card)
    assert header["license"] == "apache-2.0" and header["library_name"] == "keras"
    assert header["datasets"] == ["fer2013"] and header["metrics"] == ["accuracy", "f1"]
    [entry] = header["model-index"]
    [result] = entry["results"]
    assert result["dataset"]["split"] == "PrivateTest"
    values = {m["name"]: m["value"] for m in result["metrics"]}
    assert values == {
        "PrivateTest accuracy": round(plain["splits"]["PrivateTest"]["accuracy"], 4),
        "PrivateTest macro-F1": 0.5,
        "PrivateTest accuracy, tencrop test-time augmentation":
            round(tencrop["splits"]["PrivateTest"]["accuracy"], 4)}
    assert values["PrivateTest accuracy"] != values[
        "PrivateTest accuracy, tencrop test-time augmentation"]  # which figure goes where
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(card.split("---\n")[1]) == header
    assert card.splitlines()[read_header_end(card) + 1].startswith("# Model card: `vgg13`")


def read_header_end(card) -> int:
    return card.splitlines().index("---", 1)


def test_card_states_the_licenses_and_the_logits():
    card, _, _ = card_of(TrainConfig())
    assert "`model.keras` outputs **logits**" in card
    license_section = card.split("## License")[1]
    assert "Apache License 2.0" in license_section and "FER2013" in license_section
    assert "cannot grant rights in FER2013" in license_section


def test_card_names_no_local_path(tmp_path, monkeypatch):
    from keras_fer.release.lineage import Step

    monkeypatch.chdir(tmp_path)
    teacher = "/root/fer_runs/teacher"
    config = TrainConfig(init_from="/root/fer_runs/x075", distill={"teacher": teacher})
    steps = [Step("x075", "/root/fer_runs/x075", "missing"), Step("teacher", teacher, "missing")]
    card, _, _ = card_of(config, steps, data="/root/data/fer2013.csv",
                         recipe=str(tmp_path / "recipes" / "ft.json"))
    assert ABSOLUTE.search(card) is None, ABSOLUTE.search(card)
    assert "| fine-tuned from | `runs/x075` (its weights start the training) |" in card
    assert "| distilled from | `runs/teacher` (alpha" in card
    assert '"init_from": "runs/x075"' in card and '"teacher": "runs/teacher"' in card
    assert "--config recipes/ft.json" in card and "--data fer2013.csv" in card
    assert ABSOLUTE.search("fine-tuned from `/root/fer_runs/x075`")  # the pattern finds one
    assert "# runs/x075: its run directory (x075) was not found" in card
