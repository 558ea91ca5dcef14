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
from keras_fer.export.core import model_inputs
from keras_fer.io_utils import write_json
from keras_fer.visualize import activations as act
from keras_fer.visualize import explain as sal
from keras_fer.visualize import plots
from keras_fer.visualize.report import Figure, Table


@dataclass
class Context:
    """Everything the producers share. ``faces``: uint8 (N, 48, 48) images to explain;
    ``labels``: their true class (-1 when unknown, e.g. ``--images``); ``sample``: uint8 faces
    of the fixed faithfulness sample (None without data)."""

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
    sample: np.ndarray | None = None
    figures: list = field(default_factory=list)  # Figures and Tables, in page order
    notes: list = field(default_factory=list)  # warnings shown at the top of the page
    inputs: np.ndarray = None  # float32 (N, H, W, 1) at the model's input size
    pred: np.ndarray = None
    eval_probs: np.ndarray = None
    layer_shares: dict | None = None  # {probed layer: share of constant Grad-CAM maps}
    _cam_layer: str | None = None
    _sample_xp: tuple | None = None

    def __post_init__(self):
        from keras_fer.evaluate import predict_proba

        self.inputs = model_inputs(self.faces, self.model)
        self.pred = predict_proba(self.model, self.faces).argmax(axis=1) if len(self.faces) else \
            np.zeros(0, np.int64)

    @property
    def targets(self):
        """The class explained for each image."""
        if self.target is not None:
            return np.full(len(self.faces), self.target, np.int64)
        return self.pred

    def sample_inputs(self):
        """(model inputs, predicted classes) of the faithfulness sample (computed once)."""
        from keras_fer.evaluate import predict_proba

        if self._sample_xp is None:
            self._sample_xp = (model_inputs(self.sample, self.model),
                               predict_proba(self.model, self.sample).argmax(axis=1))
        return self._sample_xp

    @property
    def cam_layer(self):
        """--layer, else ``explain.choose_layer`` probed on the faithfulness sample (on the
        faces explained when there is none); chosen once."""
        if self.layer:
            return self.layer
        if self._cam_layer is None:
            x, t = self.sample_inputs() if self.sample is not None else (self.inputs, self.targets)
            print(f"  choosing the Grad-CAM layer on {len(x)} faces", file=sys.stderr, flush=True)
            self._cam_layer, self.layer_shares = sal.choose_layer(self.model, x, t)
        return self._cam_layer

    def map_layer(self):
        """The layer of the activation maps: --layer, the Grad-CAM layer once chosen, else the
        rule's static default (no probing)."""
        return self.layer or self._cam_layer or sal.default_layer(self.model)

    def layer_desc(self):
        if self.layer:
            return f"layer {self.layer!r} (--layer)"
        tried = ", ".join(f"{k} {v:.1%}" for k, v in self.layer_shares.items())
        n = len(self.sample) if self.sample is not None else len(self.faces)
        return (f"layer {self.cam_layer!r}, the default: the last ReLU-family feature map with more "
                f"than 2x2 positions whose Grad-CAM is constant for at most "
                f"{sal.MAX_CONSTANT:.0%} of {n} faces (constant share: {tried})")

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
             "trained maps should follow facial features, random ones should not; measured in the "
             "faithfulness table).", "Saliency")


def do_gradcam(ctx):
    from keras_fer.visualize.metrics import is_constant

    layer = ctx.cam_layer
    x, t = ctx.inputs, ctx.targets
    cam = sal.gradcam(ctx.model, x, t, layer=layer)
    campp = sal.gradcam(ctx.model, x, t, layer=layer, plus_plus=True)
    title = f"Grad-CAM and Grad-CAM++ at layer {layer} - {ctx.name} - class: {ctx.class_desc()}"
    cols = [("face", None, "face"), ("Grad-CAM", cam, "cam"), ("Grad-CAM++", campp, "cam")]
    fig = plots.map_grid(x[..., 0], cols, ctx.row_labels(), title)
    flat = {name: int(is_constant(m).sum()) for name, m in (("Grad-CAM", cam), ("Grad-CAM++", campp))}
    for name, n in flat.items():
        if n > len(x) / 2:  # say so rather than show a page of blank squares
            ctx.notes.append(f"{name} at layer {layer!r} is constant (no positive evidence for the "
                             f"class anywhere) for {n} of {len(x)} faces: try another --layer.")
    ctx.emit(fig, "gradcam.png", title,
             f"Class activation maps of {ctx.layer_desc()}, weighted by the gradient of the class "
             "logit (Grad-CAM: mean gradient; Grad-CAM++: higher-order weights), upsampled to the "
             f"face. Constant maps: Grad-CAM {flat['Grad-CAM']}, Grad-CAM++ {flat['Grad-CAM++']} "
             f"of {len(x)}.", "Class activation maps")


def do_faithfulness(ctx):
    import time

    from keras_fer.visualize import faithfulness as fa

    start = time.time()
    x, t = ctx.sample_inputs()
    report = fa.measure(ctx.model, x, t, ctx.cam_layer, ctx.smooth_samples, ctx.seed,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
    report = {"model": ctx.name, "split": ctx.eval_set[0], **report,
              "seconds": round(time.time() - start, 1)}
    write_json(ctx.out / fa.REPORT_FILE, report)
    for m in ("gradcam", "gradcam++"):
        share = report["methods"][m]["non_constant"]
        if share < 0.5:
            ctx.notes.append(f"{fa.LABELS[m]} at layer {ctx.cam_layer!r} is constant for "
                             f"{1 - share:.0%} of the {len(x)} sampled faces: try another --layer.")
    rows = []
    for m, v in report["methods"].items():
        rho = "n/a" if v["rank_correlation"] is None else f"{v['rank_correlation']:.3f}"
        rows.append([fa.LABELS[m], f"{v['non_constant']:.1%}",
                     f"{rho} ({v['rank_correlation_pairs']})", f"{v['deletion_auc']:.3f}",
                     f"{v['random_deletion_auc']:.3f}",
                     "yes" if v["deletion_auc"] < v["random_deletion_auc"] else "NO"])
    ctx.figures.append(Table(
        f"Faithfulness on {len(x)} {ctx.eval_set[0]} faces (seed {ctx.seed}) - {ctx.name}",
        f"Grad-CAM(++) at layer {ctx.cam_layer!r}; SmoothGrad n={ctx.smooth_samples}; the class "
        "explained is the prediction. Rank correlation: Spearman between each map of the trained "
        "model and of the same network with re-initialised weights (Adebayo et al. 2018), mean "
        "over the pairs where neither map is constant (their number in brackets): low means the "
        "map depends on what the model learned. Deletion AUC: the predicted class's probability "
        "as the most salient pixels are replaced by those of a blurred copy (sigma "
        f"{fa.DELETION_BLUR:g} px) first, {report['deletion']['steps']} steps "
        "(Petsiuk et al. 2018; gradient maps ranked by |gradient|): below the random pixel "
        "order's AUC means the map found the pixels the prediction rests on.",
        ["method", "non-constant maps", "rank correlation trained vs random (pairs)",
         "deletion AUC", "random-order AUC", "below random"], rows, "Faithfulness",
        fa.REPORT_FILE))


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
    layer = ctx.map_layer()
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


PRODUCERS = {"saliency": do_saliency, "gradcam": do_gradcam, "faithfulness": do_faithfulness,
             "activations": do_activations,
             "filters": do_filters, "attention": do_attention, "curves": do_curves,
             "distribution": do_distribution, "confusion": do_confusion,
             "predictions": do_predictions}
