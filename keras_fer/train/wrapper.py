"""The TRAINING model: wraps an inference model (float32 [0, 255] images -> logits).

Inputs are ``(images, labels)`` (uint8 or float images, kept as uint8 NumPy in memory; labels
go in so that the models' auxiliary losses see them). Inside the compiled step it casts to
float32, applies ``keras_fer.augment.Augment`` (training only), fits the images to the model's
input (centre crop at validation), mixes (``Augment.mix_batch``: mixup / cutmix as the
augment config says, training only), runs the model and
computes the auxiliary losses of ``keras_fer.models.aux_loss_layers`` (DACL's center loss: its
``loss_and_update`` runs inside ``call``, so the centers' update works in the jitted JAX step).

``call`` returns ``(logits, targets)``: ``targets`` are the (mixed) one-hot labels; the
overridden ``compute_loss`` (Keras' cross-entropy from logits with label smoothing, class
weights, + aux losses) and ``compute_metrics`` (on the logits and the integer labels) read
them. With a ``teacher`` (knowledge distillation) training steps also return
``teacher_logits``: the teacher sees the same augmented (and mixed) batch, fitted to its own
input size. A net with auxiliary losses adds their sum last:
``(logits, targets[, teacher_logits], aux_loss)``.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_fer.distribute import per_replica_loss


class TrainingModel(keras.Model):
    """Training wrapper around ``net`` (never saved itself: ``net`` is what a run keeps).

    Args:
        net: the inference model (logits out).
        augment: a ``keras_fer.augment.Augment`` layer (its ``mix`` setting included) or None.
        label_smoothing: float in [0, 1).
        class_weights: None or a sequence of one weight per class.
        teacher: None, or a model (logits out) whose softened outputs the student also
            learns: loss = (1 - alpha) * cross-entropy + alpha * T^2 * KL(teacher_T || student_T)
            at temperature T (Hinton et al., 2015). It is frozen and runs in inference mode.
        distill_alpha, distill_temperature: alpha and T.
        l2: adds ``l2 / 2 * sum(w ** 2)`` over every trainable weight of ``net`` to the loss, so
            its gradient is ``l2 * w``: PyTorch's SGD ``weight_decay``, which goes through the
            momentum. Keras' optimizer ``weight_decay`` is decoupled (applied beside the
            momentum): with momentum 0.9 it decays about 10x less at the same number.
        **kwargs: ``keras.Model`` arguments.

    Example:
        >>> tm = TrainingModel(net)
        >>> tm.compile(optimizer="adam", metrics=keras_fer.metrics.epoch_metrics(7))
        >>> tm.fit((images_uint8, labels), labels, epochs=1)
    """

    def __init__(self, net, augment=None, label_smoothing=0.0, class_weights=None, l2=0.0,
                 teacher=None, distill_alpha=0.5, distill_temperature=4.0, **kwargs):
        super().__init__(**kwargs)
        from keras_fer.models import aux_loss_layers

        self.net = net
        self.augment = augment
        self.label_smoothing = float(label_smoothing)
        # per image (the class and sample weights are applied here); float32 under mixed precision
        self.crossentropy = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=self.label_smoothing, reduction=None, dtype="float32")
        self.l2 = float(l2)
        self.class_weights = None if class_weights is None else np.asarray(class_weights, "float32")
        self.num_classes = int(net.output_shape[-1])
        self.input_size = tuple(int(d) for d in net.input_shape[1:3])
        self.teacher = teacher
        if teacher is not None:
            teacher.trainable = False
            self.teacher_size = tuple(int(d) for d in teacher.input_shape[1:3])
        self.distill_alpha, self.distill_temperature = float(distill_alpha), float(distill_temperature)
        self.aux_layers = list(aux_loss_layers(net))
        self.aux_counts = []
        if self.aux_layers:
            outputs = [net.output]
            for layer in self.aux_layers:
                ins = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
                outputs += list(ins)
                self.aux_counts.append(len(ins))
            self.view = keras.Model(net.inputs, outputs, name=f"{net.name}_view")
        else:
            self.view = net

    def build_from_config(self, config):
        """Builds every state from ``get_build_config()``'s input shapes by one call on a zero
        batch (uint8 images, int32 labels). KerasTuner's Hyperband does this before it loads
        the checkpoint of the trial a round continues; Keras' default runs the model on float
        symbolic inputs, which the labels' one-hot refuses, and left it unbuilt."""
        if not config or "input_shape" not in config:
            return super().build_from_config(config)
        images, labels = config["input_shape"]
        self.build_state(np.zeros([1, *images[1:]], "uint8"), np.zeros([1, *labels[1:]], "int32"))

    def build_state(self, images, labels) -> None:
        """Builds the model's and the compiled optimizer's variables from a batch of the data
        (two of ``images``/``labels``), before weights are restored into them and before
        ``fit``: Keras' TensorFlow trainer without a distribution strategy builds the optimizer
        inside the first traced step, and a ``tf.function`` that creates variables is traced
        twice (measured: two traces of 2.6 s each for recipes/cpu.json's step)."""
        n = min(2, len(labels))
        self((images[:n], labels[:n]), training=False)
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def call(self, inputs, training=False):
        from keras_fer.augment import fit_to

        images, labels = inputs
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        x = ops.cast(images, "float32")
        if len(x.shape) == 3:
            x = ops.expand_dims(x, -1)
        if training and self.augment is not None:
            x = self.augment(x, training=True)
        x = fit_to(x, self.input_size)
        targets = ops.one_hot(labels, self.num_classes, dtype="float32")
        if training and self.augment is not None and self.augment.mix:
            x, targets = self.augment.mix_batch(x, targets)
        outs = self.view(x, training=training)
        logits = outs[0] if self.aux_layers else outs
        result = [ops.cast(logits, "float32"), targets]
        if training and self.teacher is not None:
            teacher_logits = self.teacher(fit_to(x, self.teacher_size), training=False)
            result.append(ops.cast(teacher_logits, "float32"))
        if self.aux_layers:
            # an output, not add_loss: under a TensorFlow MirroredStrategy Keras' add_loss
            # lets one replica's loss leak into the next replica's `losses`
            aux, at = 0.0, 1
            for layer, n in zip(self.aux_layers, self.aux_counts):
                aux = aux + ops.cast(layer.loss_and_update(*outs[at:at + n], labels=labels,
                                                           training=training), "float32")
                at += n
            result.append(aux)
        return tuple(result)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits, targets, *rest = y_pred
        teacher_logits = rest.pop(0) if training and self.teacher is not None and rest else None
        aux = rest.pop(0) if self.aux_layers and rest else None
        per_sample_w = None
        if self.class_weights is not None:
            per_sample_w = ops.sum(targets * ops.convert_to_tensor(self.class_weights), axis=-1)
        per_sample = self.crossentropy(targets, logits)
        if per_sample_w is not None:
            per_sample = per_sample * per_sample_w
        if sample_weight is not None:
            per_sample = per_sample * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        loss = ops.mean(per_sample)
        if teacher_logits is not None:
            loss = (1.0 - self.distill_alpha) * loss + self.distill_alpha * self.distill_loss(
                logits, teacher_logits)
        if self.l2:
            squares = [ops.sum(ops.square(ops.cast(w, "float32"))) for w in self.net.trainable_weights]
            loss = loss + 0.5 * self.l2 * ops.sum(ops.stack(squares))
        if aux is not None:
            loss = loss + aux
        for extra in self.losses:  # the layers' weight regularisers
            loss = loss + ops.sum(ops.cast(extra, "float32"))
        return per_replica_loss(loss)

    def distill_loss(self, logits, teacher_logits):
        """T^2 * KL(softmax(teacher / T) || softmax(student / T)), mean over the batch (the T^2
        keeps its gradient's scale independent of T)."""
        t = self.distill_temperature
        p_teacher = ops.softmax(teacher_logits / t, axis=-1)
        kl = ops.sum(p_teacher * (ops.log(p_teacher + 1e-8) - ops.log_softmax(logits / t, axis=-1)),
                     axis=-1)
        return t * t * ops.mean(kl)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred[0], sample_weight)
