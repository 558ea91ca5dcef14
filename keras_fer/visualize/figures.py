"""One producer per ``--what`` of ``python -m keras_fer.visualize``: each computes its maps,
draws its figures, saves the PNGs into ``ctx.out`` and records them for the index page.

Example:
    >>> ctx = Context(run_dir, model, "baseline", classes, Path("vis"), faces, labels, names)
    >>> PRODUCERS["saliency"](ctx); ctx.figures[0].file
    'saliency.png'
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.visualize import activations as act
from keras_fer.visualize import explain as sal
from keras_fer.visualize import plots
from keras_fer.visualize.report import Figure


@dataclass
class Context:
    """Everything the producers share. ``faces``: uint8 (N, 48, 48) images to explain;
    ``labels``: their true class (-1 when unknown, e.g. ``--images``)."""

    run_dir: Path
    model: object
    name: str
    classes: list
    out: Path
    faces: np.ndarray
    labels: np.ndarray
    names: list
    target: int | None = None  # --class; None: each image's predicted class
    layer: str | None = None  # --layer
    n_maps: int = 8
    smooth_samples: int = 20
    seed: int = 0
    eval_set: tuple | None = None  # (split name, uint8 images, labels) for confusion/predictions
    all_counts: dict | None = None  # {split: counts per class} for the distribution chart
    compare: list = field(default_factory=list)  # more run dirs for the curves
    figures: list = field(default_factory=list)
    inputs: np.ndarray = None  # float32 (N, H, W, 1) at the model's input size
    pred: np.ndarray = None
    eval_probs: np.ndarray = None

    def __post_init__(self):
        from keras_fer.evaluate import predict_proba

        self.inputs = model_inputs(self.model, self.faces)
        self.pred = predict_proba(self.model, self.faces).argmax(axis=1) if len(self.faces) else \
            np.zeros(0, np.int64)

    @property
    def targets(self):
        """The class explained for each image."""
        if self.target is not None:
            return np.full(len(self.faces), self.target, np.int64)
        return self.pred

    @property
    def groups(self):
        """The class each image stands for: its true label, or the predicted one if unknown."""
        return np.where(self.labels >= 0, self.labels, self.pred)

    def row_labels(self):
        out = []
        for name, t, p in zip(self.names, self.labels, self.pred):
            truth = self.classes[t] if t >= 0 else "?"
            out.append(f"{name}\ntrue {truth} / pred {self.classes[p]}")
        return out

    def class_desc(self):
        return self.classes[self.target] if self.target is not None else "the predicted class"

    def emit(self, fig, file, title, caption, section):
        plots.save(fig, self.out / file)
        self.figures.append(Figure(file, title, caption, section))
        print(f"  wrote {self.out / file}", file=sys.stderr, flush=True)


def model_inputs(model, faces):
    """uint8 (N, 48, 48) -> float32 (N, H, W, 1) fitted to the model's input size."""
    x = np.asarray(faces, np.float32)[..., None]
    size = tuple(model.input_shape[1:3])
    if x.shape[1:3] != size and len(x):
        from keras import ops

        from keras_fer.augment import fit_to

        x = np.asarray(ops.convert_to_numpy(fit_to(x, size)), np.float32)
    return x


def do_saliency(ctx):
    x, t = ctx.inputs, ctx.targets
    n = ctx.smooth_samples
    cols = [("face", None, "face")]
    for label, model in (("trained", ctx.model), ("random init", sal.random_clone(ctx.model, ctx.seed))):
        vanilla = sal.saliency(model, x, t)
        smooth = sal.saliency(model, x, t, smooth_samples=n, seed=ctx.seed)
        cols += [(f"{label}\n|gradient|", np.abs(vanilla), "abs"),
                 (f"{label}\ngradient (signed)", vanilla, "signed"),
                 (f"{label}\n|SmoothGrad|", np.abs(smooth), "abs"),
                 (f"{label}\nSmoothGrad (signed)", smooth, "signed")]
    title = f"Saliency (vanilla gradient, SmoothGrad n={n}) - {ctx.name} - class: {ctx.class_desc()}"
    fig = plots.map_grid(x[..., 0], cols, ctx.row_labels(), title)
    ctx.emit(fig, "saliency.png", title,
             "Gradient of the class logit w.r.t. the input pixels, overlaid on the face: absolute "
             "(jet) and signed (red raises, blue lowers the logit), vanilla and SmoothGrad; the "
             "same architecture with random weights beside the trained model (a sanity check: "
             "trained maps should follow facial features, random ones should not).", "Saliency")


def do_gradcam(ctx):
    layer = ctx.layer or sal.last_conv_layer(ctx.model)
    x, t = ctx.inputs, ctx.targets
    cam = sal.gradcam(ctx.model, x, t, layer=layer)
    campp = sal.gradcam(ctx.model, x, t, layer=layer, plus_plus=True)
    title = f"Grad-CAM and Grad-CAM++ at layer {layer} - {ctx.name} - class: {ctx.class_desc()}"
    cols = [("face", None, "face"), ("Grad-CAM", cam, "cam"), ("Grad-CAM++", campp, "cam")]
    fig = plots.map_grid(x[..., 0], cols, ctx.row_labels(), title)
    ctx.emit(fig, "gradcam.png", title,
             f"Class activation maps of layer {layer!r} weighted by the gradient of the class logit "
             "(Grad-CAM: mean gradient; Grad-CAM++: higher-order weights), upsampled to the face.",
             "Class activation maps")


def do_activations(ctx):
    convs = [layer.name for layer in sal.conv_layers(ctx.model)]
    if not convs:
        raise UserError(f"model {ctx.name!r} has no Conv2D layer for activation maps")
    acts = act.layer_outputs(ctx.model, ctx.inputs[:1], convs)
    rows = [(f"{n}\n{a.shape[-1]} maps", act.first_maps_grid(a[0], ctx.n_maps)) for n, a in acts.items()]
    title = (f"Activation maps: first {ctx.n_maps} maps of every conv layer - {ctx.name} - "
             f"image {ctx.names[0]}")
    ctx.emit(plots.rows_grid(rows, title, ncols=ctx.n_maps), "activations_layers.png", title,
             "Each row is a conv layer (top: first); each cell one of its feature maps for the "
             "same face, on its own colour scale.", "Activations")
    layer = ctx.layer or convs[-1]
    groups = ctx.groups
    picks = [(c, int(np.flatnonzero(groups == c)[0])) for c in range(len(ctx.classes)) if (groups == c).any()]
    maps = act.layer_outputs(ctx.model, ctx.inputs[[i for _, i in picks]], [layer])[layer]
    rows = [(f"{ctx.classes[c]}\n{ctx.names[i]}", act.first_maps_grid(m, ctx.n_maps))
            for (c, i), m in zip(picks, maps)]
    title = f"Activation maps of layer {layer}, one image per emotion - {ctx.name}"
    ctx.emit(plots.rows_grid(rows, title, ncols=ctx.n_maps), "activations_emotions.png", title,
             f"The first {ctx.n_maps} maps of layer {layer!r} for one face of each emotion "
             "(true class, or predicted when unknown).", "Activations")


def do_filters(ctx):
    convs = [layer.name for layer in sal.conv_layers(ctx.model)]
    if not convs:
        raise UserError(f"model {ctx.name!r} has no Conv2D layer whose filters could be shown")
    for i, layer in enumerate(dict.fromkeys([convs[0]] + ([ctx.layer] if ctx.layer else []))):
        w = act.conv_filters(ctx.model, layer)[:64]
        which = "first conv layer" if i == 0 else "chosen layer"
        title = f"Filters of {which} {layer} ({w.shape[1]}x{w.shape[2]}) - {ctx.name}"
        fig = plots.image_grid(w, title, ncols=8, cmap="gray")
        ctx.emit(fig, f"filters_{layer}.png", title,
                 "Convolution kernels (first input channel, up to 64), each scaled to its own "
                 "range: light = positive weight.", "Filters")


def do_attention(ctx):
    layer = act.attention_layer(ctx.model)
    if layer is None:
        raise UserError(f"model {ctx.name!r} has no attention layer (only DACL models have one)")
    w = act.layer_outputs(ctx.model, ctx.inputs, [layer])[layer].reshape(len(ctx.inputs), -1)
    groups = ctx.groups
    cls = ctx.target if ctx.target is not None else int(np.bincount(groups).argmax())
    idx = np.flatnonzero(groups == cls)
    title = f"DACL attention weights ({layer}), images of class {ctx.classes[cls]} - {ctx.name}"
    ctx.emit(plots.heat_strips(w[idx], [ctx.names[i] for i in idx], title),
             "attention_one_class.png", title,
             "One strip per face of the same class: the attention weight of each feature.",
             "Attention")
    order = np.argsort(groups, kind="stable")
    title = f"DACL attention weights ({layer}), images of different classes - {ctx.name}"
    labels = [f"{ctx.classes[groups[i]]}: {ctx.names[i]}" for i in order]
    ctx.emit(plots.heat_strips(w[order], labels, title), "attention_classes.png", title,
             "One strip per face, grouped by class: do emotions attend to different features?",
             "Attention")


def _history(run_dir) -> dict:
    """``RUN/history.csv`` (``keras_fer.rundir.read_history``); a UserError if it has no rows."""
    from keras_fer.rundir import HISTORY_FILE, read_history

    history = read_history(Path(run_dir) / HISTORY_FILE)
    if not history:
        raise UserError(f"{Path(run_dir) / HISTORY_FILE}: the history has no rows")
    return history


def do_curves(ctx):
    histories = {ctx.name: _history(ctx.run_dir)}
    title = f"Training curves - {ctx.name}"
    ctx.emit(plots.curves(histories, title), "curves.png", title,
             "Loss and metrics per epoch: training solid, validation dashed.", "Training")
    if ctx.compare:
        for run in ctx.compare:
            histories[Path(run).name] = _history(run)
        title = f"Training curves compared: {', '.join(histories)}"
        ctx.emit(plots.curves(histories, title), "curves_compare.png", title,
                 "Several runs overlaid, one colour per run: training solid, validation dashed.",
                 "Training")


def do_distribution(ctx):
    title = "Class distribution per split"
    ctx.emit(plots.distribution(ctx.all_counts, ctx.classes, title), "distribution.png", title,
             "Images per emotion in each split of the data (the class imbalance the model was "
             "trained with).", "Data")


def _eval_predictions(ctx):
    from keras_fer.evaluate import predict_proba

    split, images, labels = ctx.eval_set
    if ctx.eval_probs is None:
        print(f"  predicting {len(images)} {split} images", file=sys.stderr, flush=True)
        ctx.eval_probs = predict_proba(ctx.model, images)
    probs = ctx.eval_probs
    return split, images, labels, probs.argmax(axis=1), probs.max(axis=1)


def do_confusion(ctx):
    from keras_fer.evaluate import compute_metrics, plot_confusion

    split, _, labels, pred, _ = _eval_predictions(ctx)
    m = compute_metrics(labels, pred, ctx.classes)  # its "confusion" equals sklearn's
    title = f"Confusion matrix - {ctx.name} - {split} ({len(labels)} images)"
    plot_confusion(ctx.out / "confusion.png", m, title)
    ctx.figures.append(Figure("confusion.png", title, "Rows: true emotion, columns: predicted; "
                              "each row normalised to sum to 1 (the diagonal is per-class recall).",
                              "Predictions"))


def do_predictions(ctx, per_grid=16):
    split, images, labels, pred, conf = _eval_predictions(ctx)
    for kind, mask in (("correct", pred == labels), ("wrong", pred != labels)):
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(-conf[idx], kind="stable")][:per_grid]
        title = f"Most confident {kind} predictions - {ctx.name} - {split}"
        fig = plots.prediction_grid(images[idx], labels[idx], pred[idx], conf[idx], ctx.classes, title)
        ctx.emit(fig, f"predictions_{kind}.png", title,
                 f"{int(mask.sum())} of {len(labels)} {split} images are {kind}; shown: the "
                 f"{len(idx)} with the highest softmax confidence (true -> predicted).", "Predictions")


PRODUCERS = {"saliency": do_saliency, "gradcam": do_gradcam, "activations": do_activations,
             "filters": do_filters, "attention": do_attention, "curves": do_curves,
             "distribution": do_distribution, "confusion": do_confusion,
             "predictions": do_predictions}
