"""``python -m keras_fer.visualize MODEL_DIR``: explain a trained model in PNGs and one index.html.

    python -m keras_fer.visualize MODEL_DIR [--data PATH] [--what saliency,gradcam,...]
        [--images FILES | --split PublicTest --per-class 2] [--class NAME] [--layer NAME]
        [--faithfulness-images 200] [--compare RUN2 RUN3]
        [--out DIR (default MODEL_DIR/vis; runs/vis/<name> for a release)]

``faithfulness`` measures the explanations on a fixed stratified sample of the split (--seed):
a table on the page and ``faithfulness.json`` (``keras_fer.visualize.faithfulness``).

Backend: tf-keras-vis needs TensorFlow. ``python -m keras_fer.visualize`` always runs on
TensorFlow (``__main__`` sets ``KERAS_BACKEND=tensorflow`` before Keras is imported); a model
trained under JAX loads from its ``.keras`` file unchanged. Calling ``main()`` in a process whose
Keras already runs another backend is a UserError.

Example:
    >>> main(["runs/baseline", "--what", "saliency,gradcam", "--images", "face.jpg"])
    0
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from keras_fer.errors import ArgumentParser, UserError, cli_main
from keras_fer.io_utils import check_out_dir

WHATS = ("saliency", "gradcam", "faithfulness", "activations", "filters", "attention", "curves",
         "distribution", "confusion", "predictions")
DATA_WHATS = ("faithfulness", "distribution", "confusion", "predictions")
LAYER_HELP = ("layer for Grad-CAM, the activation maps per emotion and (with the first conv) the "
              "filters. Default: the last layer whose output is a ReLU-family feature map with "
              "more than 2x2 positions; if Grad-CAM there is constant (all zero) for more than 5%% "
              "of the faithfulness sample (of the faces explained, without data), the one before "
              "it (3 tried, else the least constant). A model without such a layer: its last "
              "conv layer")


def build_parser():
    from keras_fer.data.classes import add_classes_option

    p = ArgumentParser(prog="python -m keras_fer.visualize", description=__doc__.split("\n")[0])
    p.add_argument("model_dir", help="run directory holding model.keras")
    p.add_argument("--data", help="data for --split and the data figures (default: the run's)")
    add_classes_option(p)
    p.add_argument("--what", default=None,
                   help=f"comma-separated subset of {','.join(WHATS)} (default: all that apply)")
    p.add_argument("--images", nargs="+", help="image files to explain (any size; made 48x48 gray)")
    p.add_argument("--split", default="PublicTest", help="split whose images are used")
    p.add_argument("--per-class", type=int, default=2, help="images per class to explain")
    p.add_argument("--limit", type=int, help="stratified subset of the split for confusion/predictions")
    p.add_argument("--class", dest="cls", help="emotion to explain (default: the predicted one)")
    p.add_argument("--layer", help=LAYER_HELP)
    p.add_argument("--faithfulness-images", type=int, default=200,
                   help="faces of --split (stratified, --seed) on which faithfulness is measured "
                        "and the default layer chosen")
    p.add_argument("--compare", nargs="+", default=[], help="more run dirs overlaid on the curves")
    p.add_argument("--maps", type=int, default=8, help="feature maps shown per layer")
    p.add_argument("--smooth-samples", type=int, default=20, help="SmoothGrad noisy copies")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default MODEL_DIR/vis; runs/vis/<name> for a "
                                 "release, which is read-only)")
    return p


def _parse_what(text):
    if text is None:
        return list(WHATS), False
    whats = [w.strip() for w in text.split(",") if w.strip()]
    for w in whats:
        if w not in WHATS:
            raise UserError(f"--what: unknown figure {w!r} (known: {', '.join(WHATS)})")
    return list(dict.fromkeys(whats)), True


def read_image_files(files):
    """Any image files -> uint8 (N, 48, 48) grayscale; a UserError names an unreadable file."""
    from keras_fer.data.core import decode_image

    out = []
    for f in files:
        try:
            out.append(decode_image(Path(f).read_bytes()))
        except OSError as e:
            raise UserError(f"{f}: cannot read image: {e.strerror or e}") from None
        except ValueError as e:
            raise UserError(f"{f}: not an image: {e}") from None
    return np.stack(out)


def _data_sets(args, run_dir, classes):
    """(all_counts, eval_set) from the data; labels re-indexed into the run's classes."""
    from keras_fer import rundir
    from keras_fer.data import load, stratified_subset

    config = rundir.read_config(run_dir)
    data = (load(args.data, classes=args.classes) if args.data
            else load(config.data, classes=args.classes or config.classes))
    lut = np.array([classes.index(c) if c in classes else -1 for c in data.classes], np.int64)
    data = data.select(lut[data.labels] >= 0)
    data.labels, data.classes = lut[data.labels], tuple(classes)
    images, labels = data.split(args.split)
    if not len(labels):
        raise UserError(f"{args.data or 'data'}: no {args.split} images (present: "
                        f"{', '.join(data.counts()) or 'none'})")
    if args.limit and args.limit < len(labels):
        idx = np.sort(stratified_subset(labels, args.limit, seed=args.seed))
        images, labels = images[idx], labels[idx]
    return data.counts(), (args.split, images, labels)


def _pick_per_class(images, labels, k, n_classes):
    idx = np.concatenate([np.flatnonzero(labels == c)[:k] for c in range(n_classes)]).astype(int)
    return images[idx], labels[idx], [f"#{i}" for i in idx]


def _reasons(ctx, whats, attention_layer, has_conv):
    """what -> why it does not apply (None when it does)."""
    from keras_fer.rundir import HISTORY_FILE

    no_data = "needs data with labels (--data, or run without --images)"
    return {"saliency": None if len(ctx.faces) else "no images",
            "gradcam": None if has_conv or ctx.layer else "the model has no Conv2D layer",
            "faithfulness": (no_data if ctx.sample is None else None if has_conv or ctx.layer
                             else "the model has no Conv2D layer"),
            "activations": None if has_conv else "the model has no Conv2D layer",
            "filters": None if has_conv else "the model has no Conv2D layer",
            "attention": None if attention_layer else "the model has no attention layer (DACL)",
            "curves": None if (ctx.run_dir / HISTORY_FILE).is_file() else f"no {HISTORY_FILE}",
            "distribution": None if ctx.all_counts else no_data,
            "confusion": None if ctx.eval_set else no_data,
            "predictions": None if ctx.eval_set else no_data}


@cli_main
def main(argv=None) -> int:
    from keras_fer import rundir

    args = build_parser().parse_args(argv)
    whats, explicit = _parse_what(args.what)
    for n, flag in ((args.per_class, "--per-class"), (args.maps, "--maps"),
                    (args.faithfulness_images, "--faithfulness-images"),
                    (args.smooth_samples + 1, "--smooth-samples")):
        if n < 1:
            raise UserError(f"{flag} must be >= {1 if flag != '--smooth-samples' else 0}")
    run_dir = rundir.check_run_dir(args.model_dir)
    for run in args.compare:
        rundir.check_run_dir(run)
    # RUN_DIR/vis, or runs/vis/<name> for a release, which is read-only (an --out in it: refused)
    out = check_out_dir(rundir.output_dir(run_dir, "vis", args.out))
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"visualize needs the TensorFlow backend (tf-keras-vis), Keras runs "
                        f"{keras.backend.backend()!r}: run python -m keras_fer.visualize, or set "
                        "KERAS_BACKEND=tensorflow")
    from keras_fer.data import class_index, stratified_subset
    from keras_fer.visualize import activations as act
    from keras_fer.visualize import explain as sal
    from keras_fer.visualize.figures import PRODUCERS, Context
    from keras_fer.visualize.report import Table, write_index

    classes = rundir.class_names(run_dir)
    target = class_index(args.cls, classes) if args.cls else None
    model = rundir.load_model(run_dir)
    if args.layer:
        sal.get_layer(model, args.layer)
    counts = eval_set = None
    if not args.images or args.data or (explicit and set(whats) & set(DATA_WHATS)):
        counts, eval_set = _data_sets(args, run_dir, classes)
    if args.images:
        faces = read_image_files(args.images)
        labels, names = np.full(len(faces), -1), [Path(f).name for f in args.images]
    else:
        faces, labels, names = _pick_per_class(eval_set[1], eval_set[2], args.per_class, len(classes))
        names = [f"{args.split} {n}" for n in names]
    sample = None
    if eval_set is not None:  # fixed by --seed, whatever faces the figures show
        sample = eval_set[1][stratified_subset(eval_set[2], args.faithfulness_images, args.seed)]
    ctx = Context(run_dir, model, run_dir.resolve().name, classes, out, faces, labels, names,
                  target=target, layer=args.layer, n_maps=args.maps,
                  smooth_samples=args.smooth_samples, seed=args.seed, eval_set=eval_set,
                  all_counts=counts, compare=[Path(r) for r in args.compare], sample=sample)
    reasons = _reasons(ctx, whats, act.attention_layer(model), bool(sal.conv_layers(model)))
    notes = []
    for w in whats:
        if reasons[w] and explicit:
            raise UserError(f"--what {w}: {reasons[w]}")
        if reasons[w]:
            notes.append(f"{w}: skipped ({reasons[w]})")
    todo = [w for w in whats if not reasons[w]]
    for i, w in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {w}", file=sys.stderr, flush=True)
        PRODUCERS[w](ctx)
    index = write_index(out, ctx.name, ctx.figures, notes + ctx.notes)
    tables = sum(isinstance(f, Table) for f in ctx.figures)
    print(f"wrote {len(ctx.figures) - tables} figures, {tables} tables and {index}")
    return 0
