"""Every class keras_fer registers with Keras serialises completely: `get_config` holds every
`__init__` argument and `from_config(get_config())` gives back an equal config."""
import inspect

import keras
import pytest

import keras_fer.augment.layer  # noqa: F401  (each import registers its classes)
import keras_fer.layers  # noqa: F401
import keras_fer.metrics  # noqa: F401
import keras_fer.models.core  # noqa: F401

REQUIRED = {"SparseCenterLoss": {"num_classes": 3, "feature_dim": 4}}


def registered():
    return {k.split(">", 1)[1]: v for k, v in keras.saving.get_custom_objects().items()
            if k.startswith("keras_fer>")}


def test_every_registered_class_is_checked_here():
    assert set(registered()) >= {"Augment", "SparseCenterLoss", "MacroF1", "AverageAccuracy",
                                 "GrayscaleToRGB", "ClassToken", "PositionEmbedding"}


@pytest.mark.parametrize("name", sorted(registered()))
def test_config_covers_init_and_round_trips(name):
    cls = registered()[name]
    params = [p for p, q in inspect.signature(cls.__init__).parameters.items()
              if p != "self" and q.kind not in (q.VAR_KEYWORD, q.VAR_POSITIONAL)]
    obj = cls(**REQUIRED.get(name, {}))
    config = obj.get_config()
    missing = set(params) - set(config)
    assert not missing, f"{name}.get_config() lacks {sorted(missing)}"
    assert cls.from_config(config).get_config() == config
    assert "Args" in cls.__doc__ and "Example" in cls.__doc__, f"{name} docstring"
