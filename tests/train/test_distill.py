"""Knowledge distillation (``TrainConfig.distill`` / ``--teacher``): the loss against a NumPy
reference, the teacher seeing exactly the student's augmented batch, and a run from a teacher
run directory."""
import json

import keras
import numpy as np
import pytest

from keras_fer import EMOTIONS
from keras_fer.config import TrainConfig
from keras_fer.errors import UserError
from keras_fer.models import build
from keras_fer.train import TrainingModel, run
from tests.export.conftest import load_fake_run
from tests.train.conftest import TINY


def np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_loss_is_weighted_ce_plus_t2_kl():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(5, 7)).astype("float32"), rng.normal(size=(5, 7)).astype("float32")
    labels = rng.integers(0, 7, 5)
    onehot = np.eye(7, dtype="float32")[labels]
    tm = TrainingModel(build(TINY), teacher=build(TINY), distill_alpha=0.3, distill_temperature=2.0)
    got = float(tm.compute_loss(y_pred=(s, onehot, t)))
    ce = -(onehot * np_log_softmax(s)).sum(axis=1).mean()
    pt = np.exp(np_log_softmax(t / 2))
    kl = (pt * (np.log(pt) - np_log_softmax(s / 2))).sum(axis=1).mean()
    np.testing.assert_allclose(got, 0.7 * ce + 0.3 * 4 * kl, rtol=1e-5)


def test_teacher_sees_the_students_augmented_batch():
    from keras_fer.augment import Augment

    student = build(TINY)
    teacher = build(TINY)
    teacher.set_weights(student.get_weights())
    aug = Augment.from_config_dict({"flip": True, "crop": 44, "affine": {"rotation": 20},
                                    "seed": 3})
    tm = TrainingModel(student, augment=aug, teacher=teacher, distill_alpha=1.0)
    tm.compile(optimizer=keras.optimizers.SGD(0.5))
    images = np.random.default_rng(1).integers(0, 256, (8, 48, 48, 1)).astype("uint8")
    labels = np.arange(8) % 7
    before = [w.copy() for w in student.get_weights()]
    tm.train_on_batch((images, labels), labels)
    # a teacher identical to the student on the same view: KL 0, no gradient, no change
    for a, b in zip(before, student.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    tm_labels = TrainingModel(student, augment=aug, teacher=teacher, distill_alpha=0.5)
    tm_labels.compile(optimizer=keras.optimizers.SGD(0.5))
    tm_labels.train_on_batch((images, labels), labels)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(before, student.get_weights()))


def test_run_with_a_teacher_run_directory(fer_small, tiny_cfg, tmp_path):
    teacher = load_fake_run().tiny_run_dir(tmp_path / "teacher", input_size=48,
                                          classes=EMOTIONS, epochs=0)
    cfg = tiny_cfg.replace(distill={"teacher": str(teacher), "alpha": 0.7}, epochs=1,
                           augment={"flip": True, "crop": 44})
    out = run(cfg, fer_small)
    assert json.loads((out / "config.json").read_text())["distill"]["alpha"] == 0.7
    bad = load_fake_run().tiny_run_dir(tmp_path / "six", classes=EMOTIONS[:6], epochs=0)
    with pytest.raises(UserError, match="6 classes"):
        run(cfg.replace(distill={"teacher": str(bad)}, out=str(tmp_path / "x")), fer_small)


@pytest.mark.parametrize("distill,match", [({"alpha": 0.5}, "teacher"),
                                           ({"teacher": "t", "beta": 1}, "unknown setting 'beta'"),
                                           ({"teacher": "t", "alpha": 0}, "alpha"),
                                           ({"teacher": "t", "temperature": "hot"}, "number")])
def test_bad_distill_settings_are_user_errors(distill, match):
    with pytest.raises(UserError, match=match):
        TrainConfig(distill=distill).validate()
