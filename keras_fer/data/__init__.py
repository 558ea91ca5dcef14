"""FER2013 data layer: read every form of the data set, split it, balance it.

``python -m keras_fer.data prepare|stats`` is the command line (see `keras_fer.data.cli`).

Example:
    >>> from keras_fer.data import load, stratified_split
    >>> data = load("../shared/datasets/fer2013.zip", per_class=40)
    >>> x, y = data.split("Training")
    >>> train_idx, val_idx = stratified_split(y, val_fraction=0.2, seed=0)
"""
from keras_fer.data.classes import CLASS_NAMES, PRESETS, SYNONYMS, class_index, match_class, parse_classes
from keras_fer.data.core import (
    SPLITS,
    DataWarning,
    FERData,
    decode_image,
    default_data_path,
    default_source,
    to_8bit,
    to_gray48,
)
from keras_fer.data.loader import cache_file, default_cache_dir, find_source, load
from keras_fer.data.readers import read_csv, read_images, read_npz, save_npz, scan_images
from keras_fer.data.sampling import balanced_batches, class_weights, oversample
from keras_fer.data.splits import drop_classes, stratified_kfold, stratified_split, stratified_subset
from keras_fer.emotions import EMOTIONS

__all__ = [
    "EMOTIONS", "CLASS_NAMES", "PRESETS", "parse_classes", "to_8bit", "SPLITS", "SYNONYMS",
    "DataWarning", "FERData", "load", "default_data_path", "default_source",
    "default_cache_dir", "cache_file", "find_source", "match_class", "class_index", "decode_image",
    "to_gray48", "read_csv",
    "read_images", "read_npz", "save_npz", "scan_images", "stratified_split", "stratified_kfold",
    "stratified_subset", "drop_classes", "class_weights", "oversample", "balanced_batches",
]
