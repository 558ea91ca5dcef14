"""Class names and codings: numbered folders are never guessed (presets, explicit codings),
contempt is its own class, 16-bit images are scaled, a corrupt zip member is named."""
import zipfile

import numpy as np
import pytest
from PIL import Image

from keras_fer import EMOTIONS
from keras_fer.data import CLASS_NAMES, DataWarning, class_index, drop_classes, load, parse_classes
from keras_fer.data.cli import main
from keras_fer.errors import UserError

RAF = {"1": "surprise", "2": "fear", "3": "disgust", "4": "happy", "5": "sad", "6": "angry",
       "7": "neutral"}


def _numbered(root, synth, folders, n=1, split="train"):
    """``root/split/<folder>/<k>.png``: ``n`` PNGs in each numbered folder."""
    for f in folders:
        for k in range(n):
            synth.write_png(root / split / str(f) / f"{k}.png", synth.pixels_of(10 * int(f) + k))
    return root


def _per_class(data):
    """{class name: image count} of a FERData."""
    return {c: int(n) for c, n in zip(data.classes, np.bincount(data.labels,
                                                                  minlength=len(data.classes)))}


def test_numbered_layout_without_coding_names_the_presets(tmp_path, synth):
    root = _numbered(tmp_path / "raf", synth, range(1, 8))
    with pytest.raises(UserError) as e:
        load(root, cache=False)
    msg = str(e.value)
    assert msg.startswith(f"{root}: 7 image(s) in class folder(s) '1', '2', '3', '4', '5', '6', '7'")
    for preset in ("fer2013", "raf-db", "ck+", "affectnet", "fer+", "--classes"):
        assert preset in msg


def test_raf_db_preset_and_explicit_coding(tmp_path, synth):
    root = _numbered(tmp_path / "raf", synth, range(1, 8), n=2)
    _numbered(root, synth, range(1, 8), split="test")
    data = load(root, classes="RAF-DB", cache=False)
    assert data.classes == EMOTIONS and len(data) == 21
    for f, name in RAF.items():  # every image of folder f is its RAF-DB emotion
        labels = {int(label) for p, label in zip(data.paths, data.labels) if f"/{f}/" in p}
        assert labels == {EMOTIONS.index(name)}
    assert data.counts() == {"Training": [2] * 7, "PublicTest": [1] * 7}
    explicit = load(root, classes=",".join(f"{k}={v}" for k, v in RAF.items()), cache=False)
    assert explicit.labels.tolist() == data.labels.tolist()
    with pytest.raises(UserError, match=r"image\(s\) in class folder\(s\) '7': not in the coding "
                                        r"given \(1\.\.6\)"):
        load(root, classes="1=surprise,2=fear,3=disgust,4=happy,5=sad,6=angry", cache=False)


def test_presets_exact():
    def names(preset):
        return {int(k): CLASS_NAMES[i] for k, i in parse_classes(preset).items()}

    assert names("fer2013") == dict(enumerate(EMOTIONS))
    assert names("raf-db") == {int(k): v for k, v in RAF.items()}
    assert names("ck+") == dict(enumerate(("neutral", "angry", "contempt", "disgust", "fear",
                                           "happy", "sad", "surprise")))
    assert names("affectnet") == dict(enumerate(("neutral", "happy", "sad", "surprise", "fear",
                                                 "disgust", "angry", "contempt")))
    assert names("fer+") == dict(enumerate(("neutral", "happy", "surprise", "sad", "angry",
                                            "disgust", "fear", "contempt")))


@pytest.mark.parametrize("spec, message", [
    ("raf", r"--classes 'raf': not a preset \(fer2013, raf-db, ck\+, affectnet, fer\+\)"),
    ("1=surprise,2=smug", r"--classes: 'smug' \(for 2\) is not a class"),
    ("1=surprise,01=fear", r"--classes: code '01' is given twice"),
    ("1=surprise,=fear", r"--classes: '=fear' is not CODE=CLASS"),
])
def test_bad_codings_name_the_part(spec, message):
    with pytest.raises(UserError, match=message):
        parse_classes(spec)


def test_contempt_is_its_own_class(tmp_path, synth):
    root = tmp_path / "ckplus"
    for folder, n in (("anger", 2), ("contempt", 3), ("disgust", 1), ("happy", 1)):
        for k in range(n):
            synth.write_png(root / folder / f"{k}.png", synth.pixels_of(k))
    data = load(root, cache=False)
    assert data.classes == EMOTIONS + ("contempt",)
    assert _per_class(data) == {"angry": 2, "disgust": 1, "fear": 0, "happy": 1, "sad": 0,
                                "surprise": 0, "neutral": 0, "contempt": 3}
    kept = drop_classes(data, ["contempt"])
    assert kept.classes == EMOTIONS and _per_class(kept)["disgust"] == 1 and len(kept) == 4
    fer = drop_classes(kept, ["contempt"])  # FER2013 has no contempt: nothing dropped
    assert fer.classes == EMOTIONS and len(fer) == 4
    with pytest.raises(UserError, match=r"unknown class 'contempt' \(known: angry, disgust"):
        class_index("contempt", EMOTIONS)


def test_numbered_contempt_and_csv_codings(tmp_path, synth):
    root = _numbered(tmp_path / "affectnet", synth, range(8))
    data = load(root, classes="affectnet")
    assert data.classes[data.labels[data.paths == f"{root}/train/7/0.png"][0]] == "contempt"
    # the same folder with another coding: the cache must not hand back the first labels
    ck = load(root, classes="ck+")
    assert [ck.classes[label] for label in ck.labels] == ["neutral", "angry", "contempt", "disgust",
                                                  "fear", "happy", "sad", "surprise"]
    csv = tmp_path / "fer2013.csv"
    synth.write_csv(csv, [(2, "Training"), (0, "Training"), (7, "PublicTest")])
    coded = load(csv, classes="ck+", cache=False)
    assert [coded.classes[label] for label in coded.labels] == ["contempt", "neutral", "surprise"]
    with pytest.raises(UserError, match=r"line 4: emotion label 7 outside 0\.\.6$"):
        load(csv, cache=False)  # the CSV's own coding is FER2013's


def test_named_fer2013_folders_unchanged_with_fer2013_preset(release_dir):
    root, _ = release_dir
    plain = load(root, cache=False)
    coded = load(root, classes="fer2013", cache=False)
    assert plain.classes == coded.classes == EMOTIONS
    assert coded.labels.tolist() == plain.labels.tolist()


def test_cli_numbered_layout(tmp_path, synth, capsys):
    root = _numbered(tmp_path / "raf", synth, range(1, 8))
    assert main(["stats", "--data", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {root}: 7 image(s)") and "raf-db" in err[0]
    assert main(["stats", "--data", str(root), "--classes", "rafdb", "--json"]) == 0
    import json

    counts = json.loads(capsys.readouterr().out)["splits"]["Training"]["counts"]
    assert counts == {c: 1 for c in EMOTIONS}
    assert main(["stats", "--data", str(root), "--classes", "raf"]) == 2
    assert capsys.readouterr().err.startswith("error: --classes 'raf': not a preset")


def test_16bit_png_scaled_not_clipped(tmp_path):
    values = (np.arange(48 * 48, dtype=np.int64).reshape(48, 48) * 28) % 65536
    folder = tmp_path / "faces" / "happy"
    folder.mkdir(parents=True)
    Image.fromarray(values.astype(np.uint16)).save(folder / "a.png")
    with Image.open(folder / "a.png") as im:
        assert im.mode == "I;16"  # a real 16-bit PNG
    data = load(tmp_path / "faces", cache=False)
    expected = np.round(values / 257).astype(np.uint8)
    np.testing.assert_array_equal(data.images[0], expected)


def test_corrupt_zip_member_named(release_dir, synth, tmp_path):
    root, _ = release_dir
    (root / "train" / "happy" / "Training_0.jpg").write_bytes(b"not a jpeg")
    path = synth.zip_folder(root, tmp_path / "fer2013.zip")
    with pytest.warns(DataWarning) as caught:
        data = load(path, cache=False)
    expected = f"{path}:train/happy/Training_0.jpg: cannot identify image file"
    assert data.skipped == [expected]
    assert [str(w.message) for w in caught] == [f"skipped corrupt image {expected}"]
    assert data.paths[0] == f"{path}:test/happy/PrivateTest_7.png"
    with zipfile.ZipFile(path) as zf:  # the named member is the one in the zip
        assert zf.read("train/happy/Training_0.jpg") == b"not a jpeg"
