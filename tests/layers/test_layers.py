import inspect

import keras
import numpy as np
import pytest

from keras_fer.layers import ClassToken, GrayscaleToRGB, PositionEmbedding, SparseCenterLoss, TakeIndex

LAYERS = [(GrayscaleToRGB, {"channels": 3}), (TakeIndex, {"index": 1, "axis": -1}),
          (ClassToken, {}), (PositionEmbedding, {"stddev": 0.5}),
          (SparseCenterLoss, {"num_classes": 3, "feature_dim": 4, "lam": 0.1, "mode": "classic"})]


@pytest.mark.parametrize("cls,kwargs", LAYERS, ids=lambda v: getattr(v, "__name__", ""))
def test_get_config_covers_init_and_round_trips(cls, kwargs):
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    layer = cls(**kwargs)
    config = layer.get_config()
    assert set(params) <= set(config), set(params) - set(config)
    clone = cls.from_config(config)
    for p in params:
        assert getattr(clone, p) == getattr(layer, p) or p == "initializer"
    assert "Example" in cls.__doc__ and "Args" in cls.__doc__


@pytest.mark.backends
def test_layers_match_numpy():
    x = np.random.default_rng(0).normal(size=(2, 5, 6)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(TakeIndex(0, axis=1)(x)), x[:, 0])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(TakeIndex(1, axis=-1)(x)), x[..., 1])
    img = x[..., :1]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(GrayscaleToRGB()(img)),
                                  np.concatenate([img] * 3, axis=-1))
    token = ClassToken(initializer="ones")
    out = keras.ops.convert_to_numpy(token(x))
    assert out.shape == (2, 6, 6)
    np.testing.assert_array_equal(out[:, 0], np.ones((2, 6)))
    np.testing.assert_array_equal(out[:, 1:], x)
    pos = PositionEmbedding()
    out = keras.ops.convert_to_numpy(pos(x))
    np.testing.assert_allclose(out - x, np.broadcast_to(keras.ops.convert_to_numpy(pos.embedding), x.shape),
                               atol=1e-6)
