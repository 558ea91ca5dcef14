"""Sparse (attentive) center loss of DACL (Farzaneh & Qi, WACV 2021), as a pass-through layer."""
import math

import keras
from keras import ops

MODES = ("sparse", "classic")


@keras.saving.register_keras_serializable(package="keras_fer")
class SparseCenterLoss(keras.layers.Layer):
    """One center per class; ``lam * L_SC`` with per-feature attention weights.

    In the model graph it is a pass-through: ``call([features, attention]) -> features`` (it keeps
    the attention branch in the saved model). The trainer finds it with
    ``keras_fer.models.aux_loss_layers(model)``, reads its inputs (``layer.input`` is
    ``[features, attention]``) and adds ``loss_and_update(features, attention, labels, training)``::

        L_SC = 1/(2m) sum_i sum_j a_ij (x_ij - c_{y_i, j})^2

    The centers get no gradient (stop-gradient); features and attention do. With
    ``training=True`` the centers are then moved at their own rate ``alpha`` (plain SGD on the
    centers, not scaled by ``lam``), as in the reference implementation::

        c_k -= alpha * sum_{i: y_i = k} a_i * (c_k - x_i) / (1 + n_k)

    The assignment works eagerly, in a TF ``tf.function`` and in a jitted JAX train step when
    called from a layer/model ``call`` or ``compute_loss`` (a Keras stateless scope).
    ``mode="classic"`` ignores the attention (all a_ij = 1): the classic center loss.

    Args:
        num_classes: number of classes (rows of ``centers``).
        feature_dim: length of the feature vectors.
        lam: weight of the loss (lambda; 0 gives softmax-only training).
        alpha: learning rate of the centers.
        mode: "sparse" (attention-weighted) or "classic" (unweighted).
        seed: seed of the centers' initialisation (He normal, as the reference's Kaiming normal).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Example:
        >>> import numpy as np
        >>> layer = SparseCenterLoss(7, 4)
        >>> x, a = np.ones((2, 4), "float32"), np.ones((2, 4), "float32")
        >>> float(layer.loss_and_update(x, a, np.array([0, 3]), training=True)) >= 0
        True
    """

    def __init__(self, num_classes, feature_dim, lam=0.01, alpha=0.5, mode="sparse", seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"SparseCenterLoss: mode must be one of {MODES}, got {mode!r}")
        self.num_classes = int(num_classes)
        self.feature_dim = int(feature_dim)
        self.lam = float(lam)
        self.alpha = float(alpha)
        self.mode = mode
        self.seed = seed
        self.centers = self.add_weight(
            shape=(self.num_classes, self.feature_dim), name="centers", trainable=False,
            initializer=keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / self.num_classes),
                                                        seed=seed))
        self.built = True

    def call(self, inputs):
        return inputs[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def loss_and_update(self, features, attention, labels, training=False):
        """``lam * L_SC`` on this batch; with ``training`` also moves the centers.

        Args:
            features: (m, feature_dim) features x.
            attention: (m, feature_dim) attention weights a (ignored in classic mode).
            labels: (m,) or (m, 1) integer labels, or (m, num_classes) one-hot / soft labels
                (their argmax is used).
            training: update the centers.

        Returns:
            A float32 scalar.
        """
        features = ops.cast(features, "float32")
        labels = ops.convert_to_tensor(labels)
        if len(labels.shape) == 2 and labels.shape[-1] not in (None, 1):
            labels = ops.argmax(labels, axis=-1)
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        weights = ops.ones_like(features) if self.mode == "classic" else ops.cast(attention, "float32")
        centers = ops.stop_gradient(ops.convert_to_tensor(self.centers))
        diff = features - ops.take(centers, labels, axis=0)
        m = ops.cast(ops.shape(features)[0], "float32")
        loss = ops.sum(weights * ops.square(diff)) / (2.0 * m)
        if training:
            from keras_fer.distribute import sum_over_replicas

            onehot = ops.one_hot(labels, self.num_classes, dtype="float32")  # (m, K)
            pull = ops.stop_gradient(-weights * diff)  # a_i * (c_{y_i} - x_i)
            # over the whole batch when replicas each hold a share: every one moves them alike
            pulls, counts = sum_over_replicas(ops.matmul(ops.transpose(onehot), pull),
                                              ops.sum(onehot, axis=0))
            delta = pulls / (1.0 + counts)[:, None]
            self.centers.assign(centers - self.alpha * delta)
        return self.lam * loss

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "feature_dim": self.feature_dim,
                       "lam": self.lam, "alpha": self.alpha, "mode": self.mode, "seed": self.seed})
        return config
