"""A mixed-precision model comes back from a run directory as its exact float32 copy, so
evaluation, export (TFLite cannot convert bf16 ops) and prediction compute in float32."""
import numpy as np
import pytest

from keras_fer.config import TrainConfig
from keras_fer.models.common import float32_copy
from keras_fer.train import build_net

pytestmark = pytest.mark.backends
TF_ONLY = pytest.mark.skipif(__import__("keras").backend.backend() != "tensorflow",
                             reason="a 224-pixel net: slow to compile on JAX/CPU; TF covers it")


def _policies(model):
    return {layer.dtype_policy.name for layer in model.layers}


@pytest.mark.parametrize("name", ["baseline", "prelu_resnet", pytest.param("dacl", marks=TF_ONLY)])
def test_float32_copy_of_a_mixed_model_equals_the_float32_model(name):
    # dacl at 64x64, not 224: the same layers (its resize included) at a twelfth of the work
    args = {"input_shape": [48, 48, 1], "image_size": 64} if name == "dacl" else {}
    cfg = TrainConfig(model=name, model_args=args, mixed_precision=True)
    mixed = build_net(cfg, 7)
    assert "mixed_bfloat16" in _policies(mixed)
    copy = float32_copy(mixed)
    assert _policies(copy) == {"float32"}
    assert len(copy.get_weights()) == len(mixed.get_weights())
    for a, b in zip(copy.get_weights(), mixed.get_weights()):
        np.testing.assert_array_equal(a, b)
    reference = build_net(TrainConfig(model=name, model_args=args), 7, policy="float32")
    reference.set_weights(mixed.get_weights())
    x = np.random.RandomState(0).randint(0, 256, (4, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(reference(x)), rtol=1e-5, atol=1e-5)
    # and the bf16 original is only close: the copy really computes in float32
    assert not np.allclose(np.asarray(mixed(x), "float32"), np.asarray(copy(x)), rtol=0, atol=1e-6)


def test_float32_model_is_returned_as_is():
    model = build_net(TrainConfig(model="baseline"), 7, policy="float32")
    assert float32_copy(model) is model


def test_run_dir_of_a_mixed_model_loads_as_float32(tmp_path):
    from keras_fer import rundir

    mixed = build_net(TrainConfig(model="baseline", mixed_precision=True), 7)
    (tmp_path / "run").mkdir()
    mixed.save(tmp_path / "run" / rundir.MODEL_FILE)
    assert _policies(rundir.load_model(tmp_path / "run")) == {"float32"}
    assert "mixed_bfloat16" in _policies(rundir.load_model(tmp_path / "run", float32=False))
