"""Fine-tuning (``TrainConfig.init_from`` / ``--init-from``): the run starts from exactly the
source run's weights, and a source of another architecture is a UserError naming the weight."""
import json

import numpy as np
import pytest

from keras_fer import EMOTIONS, rundir
from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.models import build
from keras_fer.train import run
from keras_fer.train.sources import load_initial_weights
from tests.export.conftest import load_fake_run
from tests.train.conftest import TINY


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A run directory holding a trained TINY net (weights unlike a fresh build's)."""
    import keras

    keras.utils.set_random_seed(7)
    net = build(TINY)
    net.set_weights([w + 0.25 for w in net.get_weights()])  # no fresh init looks like this
    path = tmp_path_factory.mktemp("source")
    net.save(path / rundir.MODEL_FILE)
    rundir.write_meta(path, {"classes": list(EMOTIONS), "input_shape": [48, 48, 1]})
    return path


def test_the_net_gets_exactly_the_source_runs_weights(source_run):
    import keras

    keras.utils.set_random_seed(0)
    net = build(TINY)
    fresh = net.get_weights()
    load_initial_weights(net, source_run)
    expected = rundir.load_model(source_run, float32=False).get_weights()
    assert len(net.get_weights()) == len(expected) == len(fresh)
    for got, want, before in zip(net.get_weights(), expected, fresh):
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got, before)


def test_a_source_of_another_architecture_is_a_user_error(tmp_path):
    other = load_fake_run().tiny_run_dir(tmp_path / "other", input_size=48, classes=EMOTIONS,
                                        epochs=0)
    with pytest.raises(UserError, match=r"other: init_from needs a run of the same model"):
        load_initial_weights(build(TINY), other)
    wider = {**TINY, "blocks": [{**TINY["blocks"][0], "filters": 12}, TINY["blocks"][1]]}
    net = build(wider)
    net.save(tmp_path / "wider.keras")
    (tmp_path / "wider").mkdir()
    (tmp_path / "wider.keras").rename(tmp_path / "wider" / rundir.MODEL_FILE)
    with pytest.raises(UserError, match=r"has shape \(3, 3, 1, 12\), this model's .* \(3, 3, 1, 8\)"):
        load_initial_weights(build(TINY), tmp_path / "wider")


def test_a_run_from_init_from_starts_at_the_source(fer_small, tiny_cfg, source_run):
    # one epoch at a learning rate too small to move the weights: the run's model is the source
    cfg = tiny_cfg.replace(init_from=str(source_run), epochs=1,
                           optimizer={"name": "sgd", "learning_rate": 1e-12})
    out = run(cfg, fer_small)
    assert json.loads((out / rundir.CONFIG_FILE).read_text())["init_from"] == str(source_run)
    got = rundir.load_model(out).trainable_weights
    want = rundir.load_model(source_run).trainable_weights
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-9)


def test_the_cli_flag_sets_the_config_key(tmp_path):
    from keras_fer.train.cli import build_parser, resolve_config

    args = build_parser().parse_args(["--init-from", "runs/a", "--teacher", "runs/b"])
    cfg = resolve_config(args)
    assert (cfg.init_from, cfg.distill["teacher"]) == ("runs/a", "runs/b")
    assert TrainConfig().init_from is None
