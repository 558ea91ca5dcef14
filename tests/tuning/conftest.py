import json

import pytest


@pytest.fixture(scope="module")
def tune_env(fer_small, tmp_path_factory):
    """(data folder holding fer2013.npz, base config JSON) for tiny searches."""
    from keras_fer.data import save_npz

    tmp = tmp_path_factory.mktemp("tune")
    save_npz(fer_small, tmp / "data" / "fer2013.npz")
    base = tmp / "base.json"
    base.write_text(json.dumps({"batch_size": 16, "tensorboard": False, "verbose": 0}))
    return tmp / "data", base
