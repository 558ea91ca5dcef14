"""The runs of ours a training learns from: a teacher to distil (config ``distill``) and a run
whose weights it starts from (config ``init_from``, fine-tuning)."""
from __future__ import annotations

from keras_fer import rundir
from keras_fer.errors import UserError


def load_teacher(cfg, num_classes: int):
    """``(teacher model or None, alpha, temperature)`` of ``cfg.distill``; the teacher is a run
    directory of ours (a trained run or an ensemble) and keeps its own precision policy."""
    if not cfg.distill:
        return None, 0.0, 1.0
    teacher_dir, alpha, temperature = cfg.distill_settings()
    teacher = rundir.load_model(teacher_dir, float32=False)
    if int(teacher.output_shape[-1]) != num_classes:
        raise UserError(f"{teacher_dir}: the teacher has {teacher.output_shape[-1]} classes, the "
                        f"student {num_classes}")
    return teacher, alpha, temperature


def load_initial_weights(net, run_dir, layers="all", seed=0) -> str:
    """Set ``net``'s weights to those of ``run_dir``'s model (``init_from``) and say what was
    copied. ``layers="all"``: every weight, and a run of another architecture or class count is
    a UserError naming the first weight that differs; ``"matching"``: the layers of the same
    name and weight shapes (``init_layers``), a UserError where there are none; ``"channels"``:
    a run of the same chain at another width (``keras_fer.train.channels``; ``seed`` draws
    the copied channels of a wider network)."""
    source = rundir.load_model(run_dir, float32=False)
    if layers == "matching":
        return load_matching_layers(net, source, run_dir)
    if layers == "channels":
        from keras_fer.train.channels import transfer_channels
        return transfer_channels(net, source, seed=seed, origin=str(run_dir))
    if len(source.weights) != len(net.weights):
        raise UserError(f"{run_dir}: init_from needs a run of the same model: it has "
                        f"{len(source.weights)} weights, this model {len(net.weights)} (for "
                        "the layers the two share: init_layers matching; the same chain at "
                        "another width: init_layers channels)")
    for mine, theirs in zip(net.weights, source.weights):
        if tuple(mine.shape) != tuple(theirs.shape):
            raise UserError(f"{run_dir}: init_from needs a run of the same model: its weight "
                            f"{theirs.path} has shape {tuple(theirs.shape)}, this model's "
                            f"{mine.path} {tuple(mine.shape)}")
    net.set_weights(source.get_weights())
    return f"init_from {run_dir}: all {len(net.weights)} weights"


def load_matching_layers(net, source, run_dir) -> str:
    """Copy each layer of ``source`` into ``net``'s layer of the same name where their weight
    shapes are equal; a line naming the layers left at their initialisation."""
    theirs = {layer.name: layer for layer in source.layers if layer.weights}
    copied, kept = [], []
    for layer in (lay for lay in net.layers if lay.weights):
        other = theirs.get(layer.name)
        if other is not None and [tuple(w.shape) for w in layer.weights] == \
                [tuple(w.shape) for w in other.weights]:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
        else:
            kept.append(layer.name)
    if not copied:
        raise UserError(f"{run_dir}: init_from with init_layers matching: no layer of this "
                        "model has a layer of the same name and weight shapes there")
    unused = sorted(set(theirs) - set(copied))
    return (f"init_from {run_dir}: {len(copied)} of {len(copied) + len(kept)} layers copied; "
            f"initialised afresh: {', '.join(kept) or 'none'}; not used from it: "
            f"{', '.join(unused) or 'none'}")
