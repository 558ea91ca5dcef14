"""On the real FER2013 zip (skipped where ../shared/datasets/fer2013.zip is absent)."""
import zipfile

import numpy as np
from PIL import Image

from keras_fer import EMOTIONS
from keras_fer.data import FERData, scan_images
from keras_fer.data.cli import format_table

TRAINING = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830,
            "surprise": 3171, "neutral": 4965}


def test_real_counts_from_names(fer_zip):
    entries = scan_images(fer_zip)  # names only, nothing decoded
    labels = np.array([e.label for e in entries])
    splits = np.array([e.split for e in entries])
    assert len(entries) == 35887
    assert dict(zip(EMOTIONS, np.bincount(labels[splits == "Training"]).tolist())) == TRAINING
    assert (splits == "PublicTest").sum() == 3589 and (splits == "PrivateTest").sum() == 3589
    table = format_table(FERData(np.broadcast_to(np.zeros((1, 48, 48), np.uint8), (len(labels), 48, 48)),
                                 labels, splits)).splitlines()
    assert table[1].split() == ["angry", "3,995", "13.9%", "467", "13.0%", "491", "13.7%"]
    assert table[-1].split() == ["total", "28,709", "100.0%", "3,589", "100.0%", "3,589", "100.0%"]


def test_real_subset_decoded(fer_small, fer_zip):
    assert len(fer_small) == 7 * 3 * 40 and not fer_small.skipped
    assert fer_small.counts() == {s: [40] * 7 for s in ("Training", "PublicTest", "PrivateTest")}
    assert fer_small.images.dtype == np.uint8 and fer_small.images.shape[1:] == (48, 48)
    assert fer_small.images.std() > 30
    member = fer_small.paths[0][len(str(fer_zip)) + 1:]
    with zipfile.ZipFile(fer_zip) as zf, zf.open(member) as f:
        reference = np.asarray(Image.open(f).convert("L"))
    np.testing.assert_array_equal(fer_small.images[0], reference)
    assert member.startswith("test/angry/PrivateTest_")  # sorted: test/ before train/
