"""Fine-tuning (``TrainConfig.init_from`` / ``--init-from``): the run starts from exactly the
source run's weights, and a source of another architecture is a UserError naming the weight;
with ``init_layers`` "matching", from the layers the two models share by name and shape."""
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


def _save_run(net, path):
    path.mkdir()
    net.save(path / rundir.MODEL_FILE)
    rundir.write_meta(path, {"classes": list(EMOTIONS), "input_shape": list(net.input_shape[1:])})
    return path


def test_matching_layers_start_a_smaller_student_from_a_larger_runs_first_stages(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    big = build("vgg13", width=0.125)
    big.set_weights([w + 0.25 for w in big.get_weights()])
    source = _save_run(big, tmp_path / "big")
    small = build("vgg13", width=0.125, stages=3, input_shape=(40, 40, 1))
    fresh = {lay.name: lay.get_weights() for lay in small.layers if lay.weights}
    with pytest.raises(UserError, match=r"has 62 weights, this model 38 \(for the layers the two "
                                        r"share: init_layers matching; .*init_layers channels\)"):
        load_initial_weights(small, source)
    said = load_initial_weights(small, source, "matching")
    # conv1-6 and bn1-6 are shared; "predictions" (64 -> 7 there, 32 -> 7 here) is not
    assert said == (f"init_from {source}: 12 of 13 layers copied; initialised afresh: "
                    "predictions; not used from it: predictions, vgg_bn10, vgg_bn7, vgg_bn8, "
                    "vgg_bn9, vgg_conv10, vgg_conv7, vgg_conv8, vgg_conv9")
    for name, before in fresh.items():
        after = small.get_layer(name).get_weights()
        if name == "predictions":
            for a, b in zip(after, before):
                np.testing.assert_array_equal(a, b)
            continue
        for a, b in zip(after, big.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_matching_without_a_shared_layer_is_a_user_error(tmp_path, source_run):
    with pytest.raises(UserError, match=r"source.*: init_from with init_layers matching: no "
                                        r"layer of this model"):
        load_initial_weights(build("vgg13", width=0.125), source_run, "matching")
    with pytest.raises(UserError, match=r"init_layers must be one of all, matching, channels, got 'some'"):
        TrainConfig.from_dict({"init_layers": "some"})
    # "matching" with nothing to match from would train from scratch while saying otherwise
    with pytest.raises(UserError, match=r"^overrides: init_layers matching takes layers from "
                                        r"init_from, which is not set \(--init-from RUN\)$"):
        TrainConfig().replace(init_layers="matching")


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
    assert (cfg.init_from, cfg.distill["teacher"], cfg.init_layers) == ("runs/a", "runs/b", "all")
    assert TrainConfig().init_from is None
    args = build_parser().parse_args(["--init-from", "runs/a", "--init-layers", "matching"])
    assert resolve_config(args).init_layers == "matching"


def test_a_resumed_run_continues_its_own_weights_not_the_sources(fer_small, tiny_cfg, source_run,
                                                                  monkeypatch):
    """init_from starts a run; its resume takes the weights of its saved state (the source's
    again would undo the epochs it trained before it was killed)."""
    from keras_fer.train import core
    from tests.train.test_train import Kill, Record

    real, calls = core.load_initial_weights, []
    monkeypatch.setattr(core, "load_initial_weights",
                        lambda *args: calls.append(args[1]) or real(*args))
    cfg = tiny_cfg.replace(init_from=str(source_run))
    with pytest.raises(KeyboardInterrupt):
        run(cfg, fer_small, callbacks=[Kill(1)], resume_every_s=0)
    assert calls == [str(source_run)]
    record = Record()
    run(cfg, fer_small, callbacks=[record])
    assert calls == [str(source_run)] and record.epochs == [1]  # not loaded again; epoch 2 ran
