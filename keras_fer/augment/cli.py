"""``python -m keras_fer.augment CONFIG``: see what an augmentation config does, as a PNG grid.

    python -m keras_fer.augment '{"flip": true, "crop": 44, "affine": {"rotation": 15}}' --data data
    python -m keras_fer.augment recipes/best.json --epoch 1 --out aug.png   # a run config's "augment"

Rows are images (one per class), the first column the evaluation view (centre crop), the others
random training views (``--epoch`` sets the epoch the alternate schedule sees).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from keras_fer.errors import ArgumentParser, UserError, cli_main
from keras_fer.io_utils import atomic_path, read_json


def read_augment_config(text) -> tuple:
    """(config dict, source) from JSON text, a JSON augment config file, or a run config file
    holding "augment"."""
    if os.path.isfile(text):
        d = read_json(text)
        source = text
    else:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"config {text!r}: neither a file nor valid JSON ({e.msg})") from None
        source = "config"
    if isinstance(d, dict) and isinstance(d.get("augment"), dict):
        d = d["augment"]
    return d, source


def preview(layer, images, views=7, epoch=0):
    """(rows, 1 + views) array of images: the evaluation view, then ``views`` training views."""
    from keras import ops

    layer.epoch.assign(epoch)
    cols = [ops.convert_to_numpy(layer(images, training=False))]
    cols += [ops.convert_to_numpy(layer(images, training=True)) for _ in range(views)]
    return np.stack(cols, axis=1)[..., 0]


def save_grid(grid, path, title="") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = grid.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.4), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            axes[r, c].imshow(grid[r, c], cmap="gray", vmin=0, vmax=255)
            axes[r, c].axis("off")
    axes[0, 0].set_title("eval", fontsize=8)
    fig.suptitle(title, fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


@cli_main
def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m keras_fer.augment", description=__doc__.split("\n")[0])
    p.add_argument("config", help="JSON text or file (an augment config or a run config)")
    p.add_argument("--data", help="FER2013 file/folder/zip (default: data/)")
    p.add_argument("--views", type=int, default=7)
    p.add_argument("--epoch", type=int, default=1, help="epoch seen by the alternate schedule")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="augment.png")
    args = p.parse_args(argv)
    from keras_fer.augment import Augment
    from keras_fer.data import load

    d, source = read_augment_config(args.config)
    layer = Augment.from_config_dict({"seed": args.seed, **d}, source=source)
    data = load(args.data, per_class=1)
    images, labels = data.images, data.labels
    first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    grid = preview(layer, images[first][..., None], args.views, args.epoch)
    save_grid(grid, args.out, title=json.dumps(d)[:120])
    print(f"wrote {args.out}: {len(first)} images x {args.views} training views", file=sys.stderr)
    return 0
