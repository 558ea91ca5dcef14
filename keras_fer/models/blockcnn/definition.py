"""Block-CNN definitions: plain JSON dicts, validated with messages naming the bad key.

A definition::

    {"name": "baseline",
     "blocks": [{"filters": 32, "kernel_size": 3, "convs": 2, "norm": "none", "pool": "max",
                 "dropout": 0.0},
                {"filters": 64, "convs": 2}],
     "head": {"pool_grid": 5, "dense": [64], "dropout": 0.5}}

Block keys (each block: ``convs`` x [conv "same" -> norm -> ReLU], then pool, then dropout):
  filters      int, or a list with one entry per conv (then ``convs`` defaults to its length)
  kernel_size  int or per-conv list (default 3)
  convs        number of conv layers (default: length of a list given above, else 1)
  norm         "none" | "batch" | "instance" (default "none"; convs have a bias only with "none")
  pool         "max" | "avg" | "none": 2x2, stride 2 (default "max")
  dropout      rate after the block, in [0, 1) (default 0)
Head keys:
  pool_grid    adaptive average pooling of the map to grid x grid (1: global average pooling;
               null: flatten the map as is)
  dense        list of hidden Dense sizes (ReLU; the last one is the "features" layer)
  dropout      rate after each hidden Dense (default 0.5)
"""
from __future__ import annotations

import copy
import os

from keras_fer.errors import UserError
from keras_fer.io_utils import read_json

NORMS = ("none", "batch", "instance")
POOLS = ("max", "avg", "none")
BLOCK_KEYS = ("filters", "kernel_size", "convs", "norm", "pool", "dropout")
HEAD_KEYS = ("pool_grid", "dense", "dropout")
TOP_KEYS = ("name", "blocks", "head")
DEFAULT_HEAD = {"pool_grid": 5, "dense": [64], "dropout": 0.5}


def load_definition(path) -> dict:
    """Read and validate a JSON definition file (UserError naming the file and key)."""
    return validate(read_json(path), source=os.fspath(path))


def _int(value, where, source, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{source}: {where} must be an integer >= {low}, got {value!r}")
    return value


def _rate(value, where, source):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise UserError(f"{source}: {where} must be a number in [0, 1), got {value!r}")
    return float(value)


def _per_conv(value, convs, where, source):
    values = value if isinstance(value, list) else [value] * convs
    if len(values) != convs:
        raise UserError(f"{source}: {where} has {len(values)} entries for {convs} convs")
    return [_int(v, f"{where}[{i}]", source) for i, v in enumerate(values)]


def _block(block, where, source):
    if not isinstance(block, dict):
        raise UserError(f"{source}: {where} must be an object, got {block!r}")
    unknown = sorted(set(block) - set(BLOCK_KEYS))
    if unknown:
        raise UserError(f"{source}: {where} has unknown key {unknown[0]!r} (known: {', '.join(BLOCK_KEYS)})")
    if "filters" not in block:
        raise UserError(f"{source}: {where} needs \"filters\"")
    lists = [block[k] for k in ("filters", "kernel_size") if isinstance(block.get(k), list)]
    convs = _int(block.get("convs", len(lists[0]) if lists else 1), f"{where}.convs", source)
    norm = block.get("norm", "none")
    if norm not in NORMS:
        raise UserError(f"{source}: {where}.norm must be one of {'|'.join(NORMS)}, got {norm!r}")
    pool = block.get("pool", "max")
    if pool not in POOLS:
        raise UserError(f"{source}: {where}.pool must be one of {'|'.join(POOLS)}, got {pool!r}")
    return {"filters": _per_conv(block["filters"], convs, f"{where}.filters", source),
            "kernel_size": _per_conv(block.get("kernel_size", 3), convs, f"{where}.kernel_size", source),
            "convs": convs, "norm": norm, "pool": pool,
            "dropout": _rate(block.get("dropout", 0.0), f"{where}.dropout", source)}


def _head(head, source):
    if not isinstance(head, dict):
        raise UserError(f"{source}: head must be an object, got {head!r}")
    unknown = sorted(set(head) - set(HEAD_KEYS))
    if unknown:
        raise UserError(f"{source}: head has unknown key {unknown[0]!r} (known: {', '.join(HEAD_KEYS)})")
    head = {**DEFAULT_HEAD, **head}
    grid = head["pool_grid"]
    if grid is not None:
        _int(grid, "head.pool_grid", source)
    dense = head["dense"]
    if not isinstance(dense, list):
        raise UserError(f"{source}: head.dense must be a list of sizes, got {dense!r}")
    dense = [_int(u, f"head.dense[{i}]", source) for i, u in enumerate(dense)]
    return {"pool_grid": grid, "dense": dense,
            "dropout": _rate(head["dropout"], "head.dropout", source)}


def validate(definition, source="model definition") -> dict:
    """Check ``definition`` and return a normalised copy (per-conv lists, defaults filled in)."""
    if not isinstance(definition, dict):
        raise UserError(f"{source}: a model definition must be a JSON object, "
                        f"got {type(definition).__name__}")
    unknown = sorted(set(definition) - set(TOP_KEYS))
    if unknown:
        raise UserError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(TOP_KEYS)})")
    blocks = definition.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise UserError(f"{source}: blocks must be a non-empty list, got {blocks!r}")
    name = definition.get("name", "block_cnn")
    if not isinstance(name, str) or not name:
        raise UserError(f"{source}: name must be a non-empty string, got {name!r}")
    return {"name": name,
            "blocks": [_block(b, f"blocks[{i}]", source) for i, b in enumerate(copy.deepcopy(blocks))],
            "head": _head(definition.get("head", {}), source)}
