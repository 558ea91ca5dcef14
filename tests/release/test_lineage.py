"""The runs a released run was made from (``keras_fer.release.lineage``): found through
``init_from``, ``distill`` and ensemble members, each once and after what it needs; their
recipes renamed to ``runs/<name>``; the card makes them first and counts their CPU-hours."""
import json

from keras_fer import rundir
from keras_fer.config import TrainConfig
from keras_fer.release.card import render_card
from keras_fer.release.lineage import lineage, write_recipes
from tests.release.conftest import report_of


def _run(path, config, cpu_hours):
    path.mkdir(parents=True)
    (path / rundir.CONFIG_FILE).write_text(json.dumps({**config, "out": str(path), "data": "d"}))
    (path / rundir.SUMMARY_FILE).write_text(json.dumps({"train_cpu_hours": cpu_hours}))
    return path


def _chain(tmp_path):
    """base; kd distilled from base; ens = base + kd; the released run: from base, taught by ens."""
    base = _run(tmp_path / "base", {"model": "vgg13", "epochs": 150}, 2.0)
    kd = _run(tmp_path / "kd", {"model": "vgg13", "distill": {"teacher": str(base)}}, 1.5)
    ens = tmp_path / "ens"
    ens.mkdir()
    rundir.write_meta(ens, {"model": "ensemble", "ensemble": [str(base), str(kd)]})
    return TrainConfig(model="vgg13", init_from=str(base),
                       distill={"teacher": str(ens), "alpha": 0.8})


def test_steps_come_once_each_after_what_they_need(tmp_path):
    steps = lineage(_chain(tmp_path))
    assert [(s.name, s.kind) for s in steps] == [("base", "train"), ("kd", "train"),
                                                 ("ens", "ensemble")]
    assert steps[1].config == {"model": "vgg13", "distill": {"teacher": "runs/base"}}
    assert steps[2].members == ["base", "kd"]
    assert [s.cpu_hours for s in steps] == [2.0, 1.5, None]
    write_recipes(steps, tmp_path / "release")
    assert sorted(p.name for p in (tmp_path / "release" / "lineage").iterdir()) == ["base.json",
                                                                                     "kd.json"]
    assert json.loads((tmp_path / "release" / "lineage" / "base.json").read_text()) == {
        "model": "vgg13", "epochs": 150}
    assert lineage(TrainConfig()) == []


def test_same_names_are_told_apart_and_a_lost_source_is_said(tmp_path):
    a = _run(tmp_path / "a" / "best", {"model": "vgg13"}, 1.0)
    b = _run(tmp_path / "b" / "best", {"model": "vgg13"}, 1.0)
    steps = lineage(TrainConfig(init_from=str(a), distill={"teacher": str(b)}))
    assert [s.name for s in steps] == ["best", "best-2"]
    lost = lineage(TrainConfig(distill={"teacher": str(tmp_path / "gone")}))
    assert [(s.name, s.kind) for s in lost] == [("gone", "missing")]


def test_a_releases_own_lineage_stands_for_its_sources_since_gone(tmp_path):
    # a release of "ft" (from "base", gone since): its lineage/ holds base's recipe
    release = _run(tmp_path / "saved_models" / "best",
                   {"model": "vgg13", "init_from": str(tmp_path / "runs" / "base")}, 1.0)
    (release / "lineage").mkdir()
    (release / "lineage" / "base.json").write_text(json.dumps(
        {"model": "vgg13", "epochs": 50, "init_from": "runs/older"}))
    steps = lineage(TrainConfig(model="vgg13", distill={"teacher": str(release)}))
    assert [(s.name, s.kind) for s in steps] == [("older", "missing"), ("base", "train"),
                                                 ("best", "train")]
    assert steps[1].config == {"model": "vgg13", "epochs": 50, "init_from": "runs/older"}
    assert steps[1].cpu_hours is None  # a recipe, not a run: its CPU-hours are unknown
    assert steps[2].config == {"model": "vgg13", "init_from": "runs/base"}
    (release / "lineage" / "base.json").unlink()
    assert [s.kind for s in lineage(TrainConfig(init_from=str(release)))] == ["missing", "train"]


def test_a_release_replaced_in_place_is_its_sources_record_not_the_new_model(tmp_path):
    """saved_models/best was trained again from itself and replaced; saved_models/fast, distilled
    from the old one, is fine-tuned with the new one as teacher. Each release's lineage/ says
    what stood at saved_models/best when it was made: the old model, once, not the new one."""
    old = {"model": "vgg13", "epochs": 24, "init_from": "runs/x075"}
    x075 = {"model": "vgg13", "epochs": 50}
    best = _run(tmp_path / "saved_models" / "best",
                {"model": "vgg13", "epochs": 16, "init_from": str(tmp_path / "saved_models" / "best"),
                 "distill": {"teacher": str(tmp_path / "saved_models" / "best")}}, 1.78)
    fast = _run(tmp_path / "saved_models" / "fast",
                {"model": "vgg13", "epochs": 50,
                 "distill": {"teacher": str(tmp_path / "saved_models" / "best")}}, 2.9)
    for release in (best, fast):  # the old best and its source, as both releases recorded them
        (release / "lineage").mkdir()
        (release / "lineage" / "best.json").write_text(json.dumps(old))
        (release / "lineage" / "x075.json").write_text(json.dumps(x075))
    steps = lineage(TrainConfig(model="vgg13", init_from=str(fast), distill={"teacher": str(best)}))
    by_name = {s.name: s for s in steps}
    assert [s.name for s in steps] == ["x075", "best-2", "fast", "best"]
    assert by_name["best"].config["init_from"] == by_name["best"].config["distill"]["teacher"] \
        == "runs/best-2"  # the new release from the old, never from itself
    assert by_name["best-2"].config == old and by_name["x075"].config == x075
    assert by_name["fast"].config["distill"] == {"teacher": "runs/best-2"}  # the old teacher
    assert by_name["best"].cpu_hours == 1.78 and by_name["best-2"].cpu_hours is None


def test_the_card_makes_the_lineage_first_and_counts_its_cpu_hours(tmp_path):
    config = _chain(tmp_path)
    report = report_of([[9, 1, 0], [2, 2, 6], [1, 1, 8]])
    card = render_card(meta={}, summary={"train_cpu_hours": 0.5}, config=config,
                       reports={"none": report, "flip": report}, parity={},
                       out="saved_models/best", data="data", recipe="recipes/ft.json",
                       lineage=lineage(config))
    # as the card's commands make them, never the machine's folders
    assert "| distilled from | `runs/ens` (alpha 0.8, temperature 4) |" in card
    assert "| fine-tuned from | `runs/base` (its weights start the training) |" in card
    assert str(tmp_path) not in card
    assert ("| made from | `base`, `kd`, `ens`; recipes in `lineage/`; 4.00 training CPU-hours "
            "with them |") in card
    reproduce = card.split("## Reproduce")[1]
    assert ("python -m keras_fer.train --config saved_models/best/lineage/base.json --data data "
            "--out runs/base\n"
            "python -m keras_fer.train --config saved_models/best/lineage/kd.json --data data "
            "--out runs/kd\n"
            "python -m keras_fer.ensemble runs/base runs/kd --out runs/ens\n"
            "python -m keras_fer.train --config recipes/ft.json --init-from runs/base --teacher "
            "runs/ens --data data --out runs/release\n") in reproduce
    plain = render_card(meta={}, summary={}, config=TrainConfig(),
                        reports={"none": report, "flip": report}, parity={},
                        out="saved_models/best", data="data")
    assert "made from" not in plain and "--teacher" not in plain and "--init-from" not in plain


def test_an_ensembles_card_makes_its_members_and_averages_them(tmp_path):
    _chain(tmp_path)
    members = [str(tmp_path / "base"), str(tmp_path / "kd")]
    steps = lineage(TrainConfig(), members)
    assert [s.name for s in steps] == ["base", "kd"]
    report = report_of([[9, 1, 0], [2, 2, 6], [1, 1, 8]])
    card = render_card(meta={"model": "ensemble", "ensemble": members},
                       summary={"train_cpu_hours": 3.5,
                                "members": [{"best_epoch": 108}, {"best_epoch": 61}]},
                       config=TrainConfig(), reports={"none": report, "flip": report}, parity={},
                       out="saved_models/best", data="data", lineage=steps)
    assert ("| selection | none of its own: the average of 2 runs' probabilities, each at its "
            "own best epoch on its validation split (`base` epoch 108, `kd` epoch 61); "
            "PrivateTest chose nothing |") in card
    # the members' hours once (the ensemble's summary holds their sum, not hours of its own)
    assert "| made from | `base`, `kd`; recipes in `lineage/`; 3.50 training CPU-hours with them |" in card
    assert ("python -m keras_fer.train --config saved_models/best/lineage/kd.json --data data "
            "--out runs/kd\npython -m keras_fer.ensemble runs/base runs/kd --out runs/release\n"
            "python -m keras_fer.release runs/release") in card
    assert "--config saved_models/best/config.json" not in card and '"model": "baseline"' not in card
    assert "No recipe of its own" in card
    assert "Training is seeded (each member's `seed`, in its recipe)" in card
