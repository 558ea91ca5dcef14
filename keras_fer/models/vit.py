"""Vision Transformers: patch embedding, class token, position embedding, pre-norm encoder."""
import keras

from keras_fer.errors import UserError
from keras_fer.layers import ClassToken, PositionEmbedding, TakeIndex
from keras_fer.models.common import image_input, load_local_weights, predictions, preprocess
from keras_fer.models.registry import register_model


def apply_encoder_block(x, num_heads, mlp_dim, dropout=0.0, name=None):
    """Pre-norm transformer block: x + MHA(LN(x)); x + MLP(LN(x)) with GELU."""
    hidden = x.shape[-1]
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln1")(x)
    y = keras.layers.MultiHeadAttention(num_heads, hidden // num_heads, dropout=dropout,
                                        name=f"{name}_attn")(y, y)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln2")(x)
    y = keras.layers.Dense(mlp_dim, activation="gelu", name=f"{name}_mlp1")(y)
    y = keras.layers.Dropout(dropout, name=f"{name}_mlp_dropout")(y)
    y = keras.layers.Dense(hidden, name=f"{name}_mlp2")(y)
    return keras.layers.Add(name=f"{name}_add2")([x, y])


def vision_transformer(input_shape=None, num_classes=7, *, image_size=None, channels=1,
                       patch_size, hidden, depth, num_heads, mlp_dim, dropout=0.0, name="vit"):
    """A ViT; the class token after the final LayerNorm is the "features" vector."""
    inputs = image_input(input_shape)
    size = image_size or inputs.shape[1]
    if inputs.shape[1] != inputs.shape[2] and image_size is None or size % patch_size:
        raise UserError(f"{name}: a square input whose side divides by {patch_size} is needed, "
                        f"got {list(inputs.shape[1:])}")
    x = preprocess(inputs, size=image_size, channels=channels)
    x = keras.layers.Conv2D(hidden, patch_size, strides=patch_size, name="patch_embed")(x)
    x = keras.layers.Reshape(((size // patch_size) ** 2, hidden), name="patch_tokens")(x)
    x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    x = keras.layers.Dropout(dropout, name="embed_dropout")(x)
    for i in range(1, depth + 1):
        x = apply_encoder_block(x, num_heads, mlp_dim, dropout, name=f"encoder{i}")
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    x = TakeIndex(index=0, axis=1, name="features")(x)
    return keras.Model(inputs, predictions(x, num_classes), name=name)


@register_model
def vit_small(input_shape=None, num_classes=7, dropout=0.1):
    """A small ViT trained from scratch on 48x48: patches 6x6 (64 tokens), width 192,
    6 blocks of 3 heads, MLP 384."""
    return vision_transformer(input_shape, num_classes, patch_size=6, hidden=192, depth=6,
                              num_heads=3, mlp_dim=384, dropout=dropout, name="vit_small")


@register_model
def vit_base16(input_shape=None, num_classes=7, weights=None, dropout=0.0):
    """ViT-Base/16 at 224x224 (gray resized and repeated to RGB inside) for transfer learning;
    weights: None or a local weights file of this architecture (no download)."""
    model = vision_transformer(input_shape, num_classes, image_size=224, channels=3,
                               patch_size=16, hidden=768, depth=12, num_heads=12, mlp_dim=3072,
                               dropout=dropout, name="vit_base16")
    return load_local_weights(model, weights)


register_model(vit_small, name="vit")  # the short name
