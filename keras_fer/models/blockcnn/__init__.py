"""Block CNNs defined in JSON; the shipped ablation study (definitions/*.json) is registered by
file name: baseline, depth5..7, kernel_5_3/5_5/7_3/7_5, batchnorm, instancenorm, final."""
from pathlib import Path

from keras_fer.models.blockcnn.definition import load_definition, validate
from keras_fer.models.blockcnn.model import apply_conv_block, apply_head, block_cnn
from keras_fer.models.registry import register_model

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


def _entrypoint(path):
    def entry(input_shape=None, num_classes=7, **overrides):
        definition = {**load_definition(path), **overrides}
        return block_cnn(definition, input_shape, num_classes, source=f"{path.name} + overrides")

    entry.__name__ = path.stem
    entry.__doc__ = f"Block CNN of {path.name}; overrides replace its top-level keys (blocks, head)."
    return entry


for _path in sorted(DEFINITIONS_DIR.glob("*.json")):
    register_model(_entrypoint(_path))

__all__ = ["apply_conv_block", "apply_head", "block_cnn", "load_definition", "validate",
           "DEFINITIONS_DIR"]
