"""224-pixel networks (TensorFlow only: parameter counts and one forward pass each)."""
import keras
import numpy as np
import pytest

from keras_fer.models import aux_loss_layers, build, trainable_params

DACL_HEAD = {"attention_dense1": 89_918_976, "attention_bn1": 7_168, "attention_dense2": 1_835_520,
             "attention_bn2": 1_024, "attention_dense3": 32_832, "attention_bn3": 128,
             "attention_heads": 66_560, "predictions": 3_591}
X = np.random.default_rng(0).uniform(0, 255, size=(2, 48, 48, 1)).astype("float32")


@pytest.fixture(scope="module")
def dacl():
    model = build("dacl")
    yield model
    keras.backend.clear_session()


def test_dacl_parameter_counts(dacl):
    for layer, count in DACL_HEAD.items():
        assert trainable_params(dacl.get_layer(layer)) == count, layer
    backbone = keras.Model(dacl.input, dacl.get_layer("stage4_block2_out").output)
    assert backbone.output.shape == (None, 7, 7, 512)
    assert trainable_params(backbone) == 11_176_512
    assert trainable_params(dacl) == 11_176_512 + sum(DACL_HEAD.values())


def test_dacl_forward_and_center_loss(dacl):
    layer = aux_loss_layers(dacl)[0]
    assert layer.name == "center_loss" and layer.lam == 0.01 and layer.mode == "sparse"
    probe = keras.Model(dacl.input, [dacl.output, *layer.input])
    logits, feats, att = [keras.ops.convert_to_numpy(t) for t in probe(X)]
    assert logits.shape == (2, 7) and feats.shape == (2, 512) and att.shape == (2, 512)
    assert np.all((att > 0) & (att < 1))  # second output of a 2-way softmax per head
    loss = float(layer.loss_and_update(feats, att, np.array([1, 4])))
    centers = keras.ops.convert_to_numpy(layer.centers)
    np.testing.assert_allclose(
        loss, 0.01 * np.sum(att * (feats - centers[[1, 4]]) ** 2) / 4, rtol=1e-4)


def test_dacl_variants_configure_the_loss(monkeypatch):
    import keras_fer.models.dacl as family

    seen = {}
    # _dacl(input_shape, num_classes, lam, alpha, mode, weights, name, image_size)
    monkeypatch.setattr(family, "_dacl",
                        lambda *args: seen.setdefault(args[6], args[2:5] + args[7:]))
    build("dacl_center")
    build("dacl_softmax")
    assert seen == {"dacl_center": (0.01, 0.5, "classic", 224),
                    "dacl_softmax": (0.0, 0.5, "sparse", 224)}


@pytest.mark.parametrize("name,count", [("vit_base16", 85_804_039), ("resnet50", 23_548_935),
                                        ("resnet18_224", 11_176_512 + 3_591)])
def test_224_networks(name, count, tmp_path):
    model = build(name)
    assert trainable_params(model) == count  # ViT-B/16: 85,798,656 + head 768*7+7
    assert model.output.shape == (None, 7)
    assert keras.ops.convert_to_numpy(model(X)).shape == (2, 7)
    if name == "resnet18_224":  # local weights file round trip
        path = tmp_path / "w.weights.h5"
        model.save_weights(path)
        again = build(name, weights=str(path))
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(X)),
                                      keras.ops.convert_to_numpy(model(X)))
    keras.backend.clear_session()


def test_dacl_at_48_pixels_keeps_the_backbone_and_shrinks_the_context_encoder():
    """image_size=48: no resize layer, a 2x2x512 map (ImageNet stem: 48 -> 24 -> 12 -> 6 -> 3
    -> 2), so the context encoder's first Dense sees 2,048 inputs instead of 25,088."""
    model = build("dacl_center", image_size=48)
    names = {layer.name for layer in model.layers}
    assert "resize" not in names
    assert model.get_layer("stage4_block2_out").output.shape == (None, 2, 2, 512)
    assert trainable_params(model.get_layer("attention_dense1")) == 2_048 * 3_584 + 3_584
    assert trainable_params(model) == (11_176_512 + sum(DACL_HEAD.values())
                                       - 89_918_976 + 2_048 * 3_584 + 3_584)
    assert model.get_layer("center_loss").mode == "classic"
    keras.backend.clear_session()
