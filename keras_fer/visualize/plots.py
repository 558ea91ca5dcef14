"""Matplotlib figures (Agg backend) for keras_fer: map overlays, grids, curves, charts.

(The confusion-matrix figure is ``keras_fer.evaluate.scores.plot_confusion``.)

Every function returns a ``matplotlib.figure.Figure`` titled with what it shows; ``save``
writes it atomically as a PNG and closes it.

Example:
    >>> fig = map_grid(faces, [("|gradient|", sal_abs, "abs")], ["happy #1"], "Saliency - baseline")
    >>> save(fig, "vis/saliency.png")
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_fer.io_utils import atomic_path  # noqa: E402

CELL = 1.5  # inches per image cell
METRICS = ("loss", "accuracy", "macro_f1", "average_accuracy")


def save(fig, path, dpi=100):
    """Write ``fig`` as a PNG at ``path`` (atomically) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight", pad_inches=0.1)
    plt.close(fig)


def _rgb(img, cmap="gray", vmin=None, vmax=None):
    """A 2-D array -> float RGB (h, w, 3) through ``cmap`` (own min-max range when vmin is None)."""
    img = np.asarray(img, np.float64)
    lo = float(np.min(img)) if vmin is None else vmin
    hi = float(np.max(img)) if vmax is None else vmax
    return matplotlib.colormaps[cmap](np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1))[..., :3]


def overlay(face, maps=None, kind="face"):
    """One RGB cell: the face in gray [0, 255], with ``maps`` blended on top.

    kind: "face" (no map), "abs"/"cam" (jet, 0..max), "signed" (blue-white-red, symmetric).
    """
    base = _rgb(face, "gray", 0, 255)
    if kind in ("abs", "cam"):
        heat, alpha = _rgb(maps, "jet", 0, max(float(np.max(maps)), 1e-12)), 0.5
    elif kind == "signed":
        lim = max(float(np.max(np.abs(maps))), 1e-12)
        heat, alpha = _rgb(maps, "bwr", -lim, lim), 0.6
    else:
        return base
    return (1 - alpha) * base + alpha * heat


def _resize(img, size):
    """Nearest-neighbour resize of (h, w, 3) to (size, size, 3)."""
    rows = np.arange(size) * img.shape[0] // size
    cols = np.arange(size) * img.shape[1] // size
    return img[rows][:, cols]


def mosaic(cells, title, col_titles=(), row_labels=(), cell_inches=CELL, cell_labels=None,
           marks=()):
    """Draw a grid of RGB cells as ONE image (fast for big grids) with titles and labels.

    The title belongs to the axes, not the figure (``suptitle``): it sits right above the column
    titles, and ``save``'s tight bounding box crops everything around, so no empty band is left
    between them (a suptitle stays at the top of the figure box, however tall the image).

    Args:
        cells: list of rows, each a list of (h, w, 3) float RGB arrays or None (blank).
        title: figure title. col_titles / row_labels: text above columns / left of rows.
        cell_labels: optional list of rows of (text, colour) drawn under each cell.
        marks: (row, column, text) written across a cell (e.g. "constant map").
    """
    nrows, ncols = len(cells), max(len(r) for r in cells)
    size = max(c.shape[0] for r in cells for c in r if c is not None)
    pad = max(size // 16, 1)
    step = size + pad
    vstep = step + (size * 2 // 3 if cell_labels else 0)  # room for the labels under the cells
    canvas = np.ones((nrows * vstep - pad, ncols * step - pad, 3))
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            if cell is not None:
                canvas[i * vstep:i * vstep + size, j * step:j * step + size] = _resize(cell, size)
    fig, ax = plt.subplots(figsize=(cell_inches * ncols + 1.2,
                                    cell_inches * nrows * vstep / step + 0.4))
    ax.imshow(canvas, interpolation="nearest")
    centres = np.arange(ncols) * step + size / 2
    ax.set_xticks(centres[:len(col_titles)], list(col_titles), fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(row_labels)) * vstep + size / 2, list(row_labels), fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i, row in enumerate(cell_labels or ()):
        for j, (text, color) in enumerate(row):
            ax.text(centres[j], i * vstep + size + pad, text, ha="center", va="top",
                    fontsize=6, color=color)
    for i, j, text in marks:
        ax.text(j * step + size / 2, i * vstep + size / 2, text, ha="center", va="center",
                fontsize=7, color="black", bbox={"facecolor": "white", "alpha": 0.8, "pad": 1,
                                                 "edgecolor": "none"})
    ax.set_title(title, fontsize=11)
    return fig


def map_grid(faces, columns, row_labels, title):
    """Rows are images; columns are maps of each image overlaid on the face.

    Args:
        faces: (N, H, W) images in [0, 255].
        columns: list of (column title, maps (N, H, W) or None for the bare face, kind), kind
            one of "face", "abs" (jet overlay), "signed" (blue-white-red, symmetric), "cam".
        row_labels: N labels (e.g. "happy -> pred sad").
        title: the figure title (what it is, model, class).

    A constant map (Grad-CAM with no positive evidence) is not drawn as a flat colour: the
    cell shows the bare face marked "constant map".
    """
    from keras_fer.visualize.metrics import is_constant

    cells, marks = [], []
    for i in range(len(faces)):
        row = []
        for j, (_, maps, kind) in enumerate(columns):
            flat = maps is not None and bool(is_constant(maps[i:i + 1])[0])
            row.append(overlay(faces[i], None, "face") if flat or maps is None
                       else overlay(faces[i], maps[i], kind))
            if flat:
                marks.append((i, j, "constant\nmap"))
        cells.append(row)
    return mosaic(cells, title, [c[0] for c in columns], row_labels, marks=marks)


def rows_grid(rows, title, ncols=None, cmap="viridis"):
    """One row per entry: a label and a stack of small maps (n, h, w), each on its own scale."""
    cells = [[_rgb(m, cmap) for m in maps[:ncols]] for _, maps in rows]
    return mosaic(cells, title, row_labels=[label for label, _ in rows], cell_inches=0.9)


def image_grid(images, title, ncols=8, cmap="gray", labels=None, colors=None, value_range=None):
    """A grid of small images (n, h, w) (filters, maps, faces), each on its own colour scale
    unless ``value_range`` is given; optional labels (and their colours) under each image."""
    n = len(images)
    lo, hi = value_range or (None, None)
    cells = [[_rgb(images[k], cmap, lo, hi) for k in range(r, min(r + ncols, n))]
             for r in range(0, n, ncols)] or [[np.ones((8, 8, 3))]]  # empty: one blank cell
    cell_labels = None
    if labels is not None:
        colors = colors or ["black"] * n
        cell_labels = [list(zip(labels[r:r + ncols], colors[r:r + ncols])) for r in range(0, n, ncols)]
    return mosaic(cells, title, cell_inches=1.2, cell_labels=cell_labels)


def heat_strips(weights, row_labels, title, xlabel="attention weight index"):
    """Attention weights (N, K) as horizontal heat strips, one per image."""
    weights = np.asarray(weights, np.float32)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(weights) + 1.2))
    im = ax.imshow(weights, aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_yticks(range(len(row_labels)))
    ax.set_yticklabels(row_labels, fontsize=7)
    ax.set_xlabel(xlabel)
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax.set_title(title, fontsize=11)
    return fig


def curves(histories, title, metrics=METRICS):
    """Training curves, the one plotter (a run's ``curves.png``, ``visualize``, a study's
    ``curves.png``): a panel per metric that a history has, one colour per run, train solid,
    validation dashed.

    Args:
        histories: dict run name -> ``{column: [value per epoch]}`` (``history.csv``'s columns,
            as ``keras_fer.rundir.read_history`` gives them; a DataFrame works too).
        metrics: the panels to draw where present (loss when none is).
    """
    def series(h, key):
        values = np.asarray(h[key], dtype=float) if key in h else np.array([])
        return values if np.isfinite(values).any() else None

    present = [m for m in metrics if any(series(h, m) is not None or series(h, f"val_{m}") is not None
                                         for h in histories.values())] or ["loss"]
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, metric in enumerate(present):
        ax = axes[0, j]
        for i, (name, h) in enumerate(histories.items()):
            c = colors[i % len(colors)]
            for key, style, label in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
                values = series(h, key)
                if values is None:
                    continue
                x = np.asarray(h["epoch"]) if "epoch" in h else np.arange(1, len(values) + 1)
                ax.plot(x[:len(values)], values, style, color=c, label=f"{name} {label}".strip(),
                        marker="." if len(values) < 30 else None)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def distribution(counts, classes, title):
    """Grouped bar chart of images per class; ``counts``: dict split -> (C,) counts."""
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(counts), 1)
    x = np.arange(len(classes))
    for i, (split, c) in enumerate(counts.items()):
        bars = ax.bar(x + i * width - 0.4 + width / 2, c, width, label=f"{split} ({int(sum(c))})")
        ax.bar_label(bars, fontsize=6)
    ax.set_xticks(x)
    ax.set_xticklabels(classes)
    ax.set_ylabel("images")
    ax.legend()
    ax.set_title(title, fontsize=11)
    return fig


def prediction_grid(faces, true, pred, conf, classes, title, ncols=8):
    """Faces with "true -> predicted (confidence)" captions, green when right, red when wrong."""
    labels = [f"true {classes[t]}\n-> {classes[p]} {c:.0%}" for t, p, c in zip(true, pred, conf)]
    colors = ["green" if t == p else "red" for t, p in zip(true, pred)]
    return image_grid(faces, title, ncols=ncols, labels=labels, colors=colors, value_range=(0, 255))
