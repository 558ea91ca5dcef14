"""Every shipped recipe is a valid config of a registered model, and names its source runs
(teacher, initial weights) as placeholders under runs/, never a path of the machine it came from."""
from pathlib import Path

import pytest

from keras_fer.config import load_config
from keras_fer.models import list_models

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.json"))


def test_the_recipes_folder_holds_the_documented_recipes():
    names = {p.stem for p in RECIPES}
    assert {"cpu", "cpu_long", "cpu_long_x075", "cpu_long_x075_ft", "cpu_long_150", "best",
            "cpu_finetune", "cpu_kd_ensemble"} <= names


def changed_keys(a, b) -> set:
    a, b = a.to_dict(), b.to_dict()
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def test_the_long_cpu_recipe_is_the_releases_within_three_hours():
    """recipes/cpu_long.json trains in the background in at most 3 hours on a 2-core machine: its
    time budget fixes the epochs after timing one. cpu_long_x075 is the same without the budget,
    the released model's first run; cpu_long_150 an earlier release's (half width, 150 epochs)."""
    from keras_fer.durations import parse_duration

    folder = RECIPES[0].parent
    long, release, previous = (load_config(folder / f"{name}.json")
                               for name in ("cpu_long", "cpu_long_x075", "cpu_long_150"))
    assert parse_duration(long.time_budget) == 2 * 3600 + 50 * 60
    assert (long.epochs, release.epochs, release.time_budget) == (50, 50, None)
    assert changed_keys(long, release) == {"time_budget"}
    assert (release.model_args, previous.model_args, previous.epochs) == ({"width": 0.75},
                                                                         {"width": 0.5}, 150)
    assert changed_keys(release, previous) == {"model_args", "epochs"}


def test_the_released_fine_tune_restarts_the_long_recipe_with_a_shorter_cycle():
    """cpu_long_x075_ft: a warm restart of cpu_long_x075's run, 24 epochs from a peak of 0.02
    after 2 warm-up epochs; loss, augmentation, EMA and precision unchanged."""
    folder = RECIPES[0].parent
    first, restart = (load_config(folder / f"{name}.json")
                      for name in ("cpu_long_x075", "cpu_long_x075_ft"))
    assert changed_keys(first, restart) == {"init_from", "epochs", "optimizer", "schedule"}
    assert (restart.init_from, restart.epochs) == ("runs/x075", 24)
    assert restart.optimizer == {**first.optimizer, "learning_rate": 0.02}
    assert restart.schedule == {"name": "cosine", "warmup_epochs": 2}


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_and_its_sources_are_portable(path):
    cfg = load_config(path)  # unknown keys or wrong types raise UserError
    assert cfg.model in list_models()
    teacher, alpha, temperature = cfg.distill_settings()
    for source in (teacher, cfg.init_from):
        if source is not None:
            # not /root/..., not ../elsewhere: a run here, or a packaged model (committed)
            assert source.startswith(("runs/", "saved_models/")), source
    if teacher is not None:
        assert 0.0 < alpha <= 1.0 and temperature > 0
