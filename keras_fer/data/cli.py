"""``python -m keras_fer.data``: prepare a data folder, print / plot the class distribution.

    python -m keras_fer.data prepare --src ../shared/datasets/fer2013.zip --out data
    python -m keras_fer.data stats [--data PATH] [--json] [--plot FILE.png]
    python -m keras_fer.data prepare --src raf-basic --classes raf-db --out data_raf
        # numbered class folders need their coding: a preset or 1=surprise,2=fear,...
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from keras_fer.data.classes import add_classes_option
from keras_fer.data.core import FERData, default_source
from keras_fer.data.loader import load
from keras_fer.data.readers import NPZ_NAME, save_npz
from keras_fer.errors import ArgumentParser, UserError, UserFileNotFound, cli_main
from keras_fer.io_utils import check_out_dir

SAMPLES_PER_CLASS = 2


def stats(data: FERData) -> dict:
    """{split: {"total": n, "counts": {class: n}, "percent": {class: %}}} for the splits present."""
    out = {}
    for split, counts in data.counts().items():
        total = int(sum(counts))
        out[split] = {"total": total,
                      "counts": {c: int(n) for c, n in zip(data.classes, counts)},
                      "percent": {c: round(100.0 * n / total, 2) for c, n in zip(data.classes, counts)}}
    return out


def format_table(data: FERData) -> str:
    """The class distribution as a text table: one row per class, count and percent per split."""
    table = stats(data)
    width = max(8, *(len(c) for c in data.classes))
    lines = [f"{'class':<{width}}" + "".join(f"{s:>17}" for s in table)]
    for c in data.classes:
        lines.append(f"{c:<{width}}" + "".join(
            f"{t['counts'][c]:>10,} {t['percent'][c]:>5.1f}%" for t in table.values()))
    lines.append(f"{'total':<{width}}" + "".join(f"{t['total']:>10,} {100.0:>5.1f}%"
                                                 for t in table.values()))
    if data.skipped:
        lines.append(f"{len(data.skipped)} corrupt image(s) skipped")
    return "\n".join(lines)


def plot_distribution(data: FERData, path) -> None:
    """A grouped bar chart (classes x splits) of image counts, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_fer.io_utils import atomic_path

    table = stats(data)
    x = np.arange(len(data.classes))
    width = 0.8 / max(1, len(table))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (split, t) in enumerate(table.items()):
        ax.bar(x + i * width, [t["counts"][c] for c in data.classes], width,
               label=f"{split} ({t['total']:,})")
    ax.set_xticks(x + width * (len(table) - 1) / 2, data.classes)
    ax.set_ylabel("images")
    ax.set_title("Class distribution")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_samples(data: FERData, folder, per_class=SAMPLES_PER_CLASS) -> int:
    """A few PNGs per class (from the last split present) for ``make predict``; returns the count."""
    from PIL import Image

    split = list(data.counts())[-1]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for c, name in enumerate(data.classes):
        for k, i in enumerate(np.nonzero((data.splits == split) & (data.labels == c))[0][:per_class]):
            Image.fromarray(data.images[i]).save(folder / f"{name}_{k}.png")
            n += 1
    return n


def _one_line_warnings():
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def _parser():
    p = ArgumentParser(prog="python -m keras_fer.data", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="read any supported source, write OUT/fer2013.npz")
    prep.add_argument("--src", help="fer2013.csv, train.csv, image folder or .zip (default "
                                     "$FER2013_SRC; make data passes ../shared/datasets/fer2013.zip)")
    prep.add_argument("--out", default="data", help="output folder (default data/)")
    prep.add_argument("--per-class", type=int, default=None, help="at most N images per class per split")
    prep.add_argument("--force", action="store_true",
                      help="replace an OUT/fer2013.npz prepared before (else refused before any work)")
    st = sub.add_parser("stats", help="count and percent per class per split")
    st.add_argument("--data", default=None, help="data path ($FER2013_DATA or data/)")
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")
    st.add_argument("--plot", default=None, metavar="FILE.png", help="also draw a bar chart")
    st.add_argument("--no-cache", action="store_true", help="do not use the decoded-array cache")
    for sp in (prep, st):
        sp.add_argument("--strict", action="store_true", help="a corrupt image is an error")
        add_classes_option(sp)
    return p


@cli_main
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    _one_line_warnings()
    if args.command == "prepare":
        src = str(default_source("--src")) if args.src is None else args.src
        if not src or not Path(src).exists():
            raise UserFileNotFound(f"no data source at {src!r}: download FER2013 (image-folder zip or "
                            "fer2013.csv) and set FER2013_SRC or pass --src PATH")
        check_out_dir(args.out)
        if (Path(args.out) / NPZ_NAME).exists() and not args.force:
            raise UserError(f"{Path(args.out) / NPZ_NAME}: already prepared (every command reads "
                            "it); pass --force to replace it, or choose another --out")
        # The npz written here is itself the fast path: no need for a second copy in the cache.
        data = load(src, strict=args.strict, per_class=args.per_class, cache=False,
                    classes=args.classes)
        out = Path(args.out)
        save_npz(data, out / NPZ_NAME)
        n = write_samples(data, out / "samples")
        print(format_table(data))
        print(f"wrote {out / NPZ_NAME} ({len(data):,} images) and {n} samples in {out / 'samples'}",
              file=sys.stderr)
        return 0
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UserError(f"--plot {args.plot}: the chart is a PNG, name it FILE.png")
    if args.plot:
        check_out_dir(Path(args.plot).parent)
    data = load(args.data, strict=args.strict, cache=not args.no_cache, classes=args.classes)
    if args.json:
        print(json.dumps({"classes": list(data.classes), "total": len(data),
                          "skipped": list(data.skipped), "splits": stats(data)}, indent=2))
    else:
        print(format_table(data))
    if args.plot:
        plot_distribution(data, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
