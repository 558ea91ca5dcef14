"""The releases shipped in git (saved_models/best, "accurate", and saved_models/fast, the
default of keras_fer.load()): their PrivateTest numbers (the card's headline) are reproduced by
evaluating each on the real FER2013 on this CPU (PublicTest too would double the suite's
longest evaluation, 2 minutes on a Zen 2 EPYC, for the split that only chose the epoch), its
card says them, and its SavedModel loads from a clean clone (where git has dropped the empty
assets/ folder) and agrees with its model.keras."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

RELEASES = [Path(__file__).resolve().parents[2] / "saved_models" / name for name in ("best", "fast")]


@pytest.fixture(params=RELEASES, ids=lambda path: path.name)
def release(request):
    if not (request.param / "model.keras").is_file():
        pytest.skip(f"no release shipped in {request.param}")
    return request.param


@pytest.fixture(scope="module")
def private_test(fer_zip, tmp_path_factory):
    from keras_fer.data import load

    data = load(fer_zip, cache_dir=tmp_path_factory.mktemp("fer_full"))
    return data.select(np.flatnonzero(data.splits == "PrivateTest"))


def test_shipped_release_is_read_only_to_evaluate_and_export(release, tmp_path, monkeypatch):
    from keras_fer import rundir
    from keras_fer.errors import UserError

    assert rundir.is_release(release)  # by its model card: it predates release.json
    monkeypatch.chdir(tmp_path)
    assert rundir.output_dir(release, "eval") == Path("runs/eval") / release.name
    assert rundir.output_dir(release, "export") == Path("runs/export") / release.name
    # a folder inside it (its SavedModel, given to predict) writes beside it too
    assert (rundir.output_dir(release / "export" / "savedmodel", "predict")
            == Path("runs/predict") / release.name)
    assert rundir.output_dir(release, "eval", force=True) == release / "eval"
    with pytest.raises(UserError, match="inside the release"):
        rundir.output_dir(release, "eval", out=release / "eval")


# the release's ("accurate") evaluation, 32 CPU-seconds of its network on 3,589 faces, runs in
# `make test-long`: the fast model's, 12, checks the same code on every CI run
@pytest.mark.parametrize("release", [pytest.param(RELEASES[0], id="best", marks=pytest.mark.long),
                                     pytest.param(RELEASES[1], id="fast")], indirect=True)
def test_evaluating_the_release_reproduces_its_report_and_card(release, private_test, tmp_path):
    from keras_fer.evaluate import evaluate_run

    before = (release / "eval" / "report.json").read_bytes()
    got = evaluate_run(release, private_test, splits=("PrivateTest",), verbose=False,
                       out=tmp_path / "eval")
    assert (release / "eval" / "report.json").read_bytes() == before  # git's files untouched
    want = json.loads(before)
    assert list(got["splits"]) == ["PrivateTest"]
    got, private = got["splits"]["PrivateTest"], want["splits"]["PrivateTest"]
    assert got["n"] == 3589 and got["confusion"] == private["confusion"]
    for key in ("accuracy", "macro_f1"):
        assert got[key] == pytest.approx(private[key], abs=1e-12)
    card = (release / "README.md").read_text()
    assert re.search(rf"PrivateTest accuracy \*\*{private['accuracy']:.4f}\*\* "
                     rf"\(macro-F1 {private['macro_f1']:.4f}\)", card)


def test_shipped_savedmodel_loads_and_agrees_with_model_keras(release, fer_small):
    import tensorflow as tf

    from keras_fer import rundir
    from keras_fer.evaluate import predict_proba

    # 64 real PublicTest faces of two classes (fer_small: the session's, read anyway; the whole
    # test splits are read only by the evaluation above, an end-to-end test)
    images = fer_small.split("PublicTest")[0][:64]
    served = tf.saved_model.load(str(release / "export" / "savedmodel"))
    out = served.serve(images[..., None])
    ref = np.asarray(predict_proba(rundir.load_model(release), images))
    np.testing.assert_allclose(out["probabilities"].numpy(), ref, atol=1e-5)
    labels = (release / "export" / "labels.txt").read_text().split()
    assert [n.decode() for n in out["class_name"].numpy()] == [labels[i] for i in ref.argmax(axis=1)]


def test_the_recipe_the_card_reproduces_with_is_the_releases_config(release):
    """A recipe edited after the release (more epochs, a time budget) would make the card's
    *Reproduce* train something else."""
    from keras_fer import rundir
    from keras_fer.config import load_config
    from keras_fer.release.lineage import sources as sources_of

    card = (release / "README.md").read_text()
    line = re.search(r"^python -m keras_fer\.train --config recipes/.*$", card, re.M).group(0)
    recipe = line.split()[4]
    released = rundir.read_config(release).to_dict()
    reproduced = load_config(release.parents[1] / recipe).to_dict()
    for key in ("out", "data"):
        released.pop(key), reproduced.pop(key)
    # the runs it was made from are named on the card's command line (runs/<name>), not by the
    # path they had on the machine that trained it
    sources = sorted(sources_of(released))
    assert sources == sorted(sources_of(reproduced))
    for key in sources:
        flag = {"init_from": "--init-from", "teacher": "--teacher"}[key]
        assert f"{flag} runs/" in line, (flag, line)
    for config in (released, reproduced):
        config.pop("init_from"), config["distill"].pop("teacher", None)
    assert reproduced == released
