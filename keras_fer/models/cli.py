"""``python -m keras_fer.models list [NAME ...]``: each model with its trainable parameters."""
from __future__ import annotations

import sys

from keras_fer.errors import ArgumentParser, UserError, cli_main


@cli_main
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m keras_fer.models", description="The keras_fer model zoo.")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="print each registered model with its trainable parameters")
    ls.add_argument("names", nargs="*", help="only these models (default: all)")
    ls.add_argument("--names-only", action="store_true", help="skip building (no counts)")
    args = parser.parse_args(argv)

    import keras

    from keras_fer.models.core import build, list_models, trainable_params

    known = list_models()
    names = args.names or known
    for name in names:
        if name not in known:
            raise UserError(f"unknown model {name!r} (known: {', '.join(known)})")
    width = max(len(n) for n in names)
    for i, name in enumerate(names, start=1):
        if args.names_only:
            print(name)
            continue
        print(f"{name:<{width}}  {trainable_params(build(name)):>12,}", flush=True)
        keras.backend.clear_session()
        if len(names) > 3:
            print(f"[{i}/{len(names)}]", file=sys.stderr, flush=True)
    return 0
