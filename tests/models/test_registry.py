import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_fer.errors import UserError
from keras_fer.models import build, list_models, trainable_params
from keras_fer.models.cli import main

ABLATION = ["baseline", "depth5", "depth6", "depth7", "kernel_5_3", "kernel_5_5", "kernel_7_3",
            "kernel_7_5", "batchnorm", "instancenorm", "final"]
BASELINE = {"name": "mine", "blocks": [{"filters": 32, "convs": 2}, {"filters": 64, "convs": 2}],
            "head": {"pool_grid": 5, "dense": [64], "dropout": 0.5}}


def _expected_block_params(definition_path):
    """Reference count from the JSON: conv k*k*cin*cout (+bias without norm, else 2*cout for
    BN/IN gamma, beta), adaptive pool grid, dense layers, dense 7."""
    d = json.load(open(definition_path))
    cin, total = 1, 0
    for block in d["blocks"]:
        lists = [v for v in (block["filters"], block["kernel_size"]) if isinstance(v, list)]
        convs = block.get("convs", len(lists[0]) if lists else 1)
        filters, kernels = [v if isinstance(v, list) else [v] * convs
                            for v in (block["filters"], block["kernel_size"])]
        for f, k in zip(filters, kernels):
            total += k * k * cin * f + (f if block.get("norm", "none") == "none" else 2 * f)
            cin = f
    width = cin * d["head"]["pool_grid"] ** 2
    for units in d["head"]["dense"] + [7]:
        total += width * units + units
        width = units
    return total


def test_registry_has_every_family():
    names = set(list_models())
    assert set(ABLATION) <= names
    assert {"cnn_model1", "cnn_model2", "cnn_model3", "prelu_resnet", "vgg19", "resnet18",
            "resnet18_224", "resnet50", "vit", "vit_small", "vit_base16", "dacl", "dacl_center",
            "dacl_softmax"} <= names


@pytest.mark.parametrize("name", ABLATION)
def test_ablation_definitions_param_counts(name):
    from keras_fer.models.blockcnn import DEFINITIONS_DIR

    model = build(name)
    assert trainable_params(model) == _expected_block_params(DEFINITIONS_DIR / f"{name}.json")
    assert model.output.shape == (None, 7)
    assert model.get_layer("features").output.shape == (None, 64)


def test_baseline_count_and_dict_and_file_forms(tmp_path):
    assert trainable_params(build("baseline")) == 167_911  # 320+9,248+18,496+36,928+102,464+455
    assert trainable_params(build(BASELINE)) == 167_911
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(BASELINE))
    model = build(str(path), input_shape=(40, 40, 1), num_classes=5)
    assert model.name == "mine" and model.output.shape == (None, 5)
    assert model.input.shape == (None, 40, 40, 1)
    # overrides replace top-level keys (what a tuner generates)
    small = build("baseline", head={"pool_grid": 2, "dense": [], "dropout": 0.0})
    assert trainable_params(small) == 320 + 9_248 + 18_496 + 36_928 + (64 * 4 * 7 + 7)


def test_global_pool_head_is_the_map_mean_and_compiles():
    """pool_grid 1 is the mean over the last map (64 features), in a compiled function too:
    Keras' AdaptiveAveragePooling2D to 1x1 fails there, the reason apply_head special-cases it."""
    model = build("batchnorm", head={"pool_grid": 1, "dense": [], "dropout": 0.0})
    # convs without bias, batch norm's gamma and beta on 32+32+64+64 channels, Dense(64 -> 7)
    assert trainable_params(model) == 288 + 9_216 + 18_432 + 36_864 + 2 * 192 + (64 * 7 + 7)
    pooled = model.get_layer("head_pool")
    before = keras.Model(model.input, pooled.input)
    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1)).astype("uint8")
    assert pooled.input.shape == (None, 12, 12, 64)
    want = np.asarray(before(x)).mean(axis=(1, 2))
    features = keras.Model(model.input, model.get_layer("features").output)
    np.testing.assert_allclose(np.asarray(features(x)), want, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=False)
    loss = model.train_on_batch(x, np.array([0, 1, 2]))
    assert np.isfinite(loss)


@pytest.mark.parametrize("definition,message", [
    ({"blocks": []}, "blocks must be a non-empty list"),
    ({"blocks": [{"filters": 8, "norm": "layer"}]}, "blocks[0].norm must be one of none|batch|instance"),
    ({"blocks": [{"filters": 8, "colour": 1}]}, "blocks[0] has unknown key 'colour'"),
    ({"blocks": [{"filters": [8, 8], "kernel_size": [3, 3, 3]}]},
     "blocks[0].kernel_size has 3 entries for 2 convs"),
    ({"blocks": [{"filters": 8, "dropout": 1.5}]}, "blocks[0].dropout must be a number in [0, 1)"),
    ({"blocks": [{"filters": 8}], "head": {"dense": [0]}}, "head.dense[0] must be an integer >= 1"),
    ({"blocks": [{"filters": 8}], "layers": 3}, "unknown key 'layers'"),
])
def test_bad_definition_names_file_and_key(tmp_path, definition, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(definition))
    with pytest.raises(UserError) as e:
        build(str(path))
    assert str(path) in str(e.value) and message in str(e.value)


def test_user_errors():
    with pytest.raises(UserError, match="unknown model 'nope'"):
        build("nope")
    with pytest.raises(UserError, match="missing.json: file not found"):
        build("missing.json")
    with pytest.raises(UserError, match=r"input_shape must be \(height, width, 1\)"):
        build("baseline", input_shape=(48, 48, 3))
    with pytest.raises(UserError, match="model 'cnn_model1': unknown argument 'depth'"):
        build("cnn_model1", depth=3)
    with pytest.raises(UserError, match="weights file not found"):
        build("resnet50", weights="/nonexistent/w.h5")


@pytest.mark.parametrize("name, args, message", [
    ("vgg13", {"width": -1}, "width must be a number > 0, got -1"),  # was 8 filters, exit 0
    ("vgg13", {"width": 0}, "width must be a number > 0, got 0"),
    ("vgg19", {"width": True}, "width must be a number > 0, got True"),
    ("vgg13", {"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
    ("vgg13", {"bn_momentum": -0.5}, r"bn_momentum must be a number in \[0, 1\)"),
    ("mini_xception", {"l2": -1e-4}, "l2 must be a number >= 0"),
    ("dacl", {"alpha": 2.0}, r"alpha must be a number in \[0, 1\]"),
    ("dacl", {"lam": -1}, "lam must be a number >= 0"),
    ("resnet50", {"image_size": 224.5}, "image_size must be an integer >= 32"),
])
def test_a_model_argument_outside_its_range_is_refused_before_building(name, args, message):
    from keras_fer.config import TrainConfig

    with pytest.raises(UserError, match=f"model '{name}': {message}"):
        build(name, **args)
    with pytest.raises(UserError, match=f"config: model_args: {message}"):  # before any Keras
        TrainConfig(model=name, model_args=args).validate()


def test_resnet50_refuses_imagenet_weights_without_any_download(monkeypatch):
    from keras_fer.models.resnet import RESNET50_URL

    def no_network(*args, **kwargs):
        raise AssertionError("resnet50 reached for the network or keras.applications")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr(keras.applications, "ResNet50", no_network)
    with pytest.raises(UserError) as e:
        build("resnet50", weights="imagenet")
    message = str(e.value)
    assert message.startswith("resnet50: weights='imagenet' would download them at run time")
    assert f"download {RESNET50_URL} once and pass its path" in message and "\n" not in message


def test_list_cli(capsys):
    assert main(["list", "cnn_model1", "baseline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [["cnn_model1", "1,849,223"], ["baseline", "167,911"]]
    assert main(["list", "--names-only"]) == 0
    assert capsys.readouterr().out.split() == list_models()
    assert main(["list", "nope"]) == 2
    assert "error: unknown model 'nope'" in capsys.readouterr().err


def test_list_cli_subprocess_exit_code():
    env = {**os.environ, "KERAS_BACKEND": "jax"}  # the quicker import; the check is backend-free
    proc = subprocess.run([sys.executable, "-m", "keras_fer.models", "list", "nope"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error: unknown model 'nope'" in proc.stderr
