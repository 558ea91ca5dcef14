"""Readers: Kaggle CSV, train.csv, image folders (extracted and zipped), synonyms, conversion,
corrupt files, per_class, prepared fer2013.npz, missing data."""
import numpy as np
import pytest
from PIL import Image

from keras_fer import EMOTIONS
from keras_fer.data import DataWarning, FERData, default_data_path, load, match_class, save_npz, scan_images
from keras_fer.errors import UserError


def test_fer2013_csv_exact(classes_csv):
    path, images, rows = classes_csv
    data = load(path, cache=False)
    assert isinstance(data, FERData) and len(data) == 28
    np.testing.assert_array_equal(data.images, images)
    assert data.labels.tolist() == [r[0] for r in rows]
    assert data.splits.tolist() == [r[1] for r in rows]
    assert data.paths[0] == f"{path}:2" and data.paths[-1] == f"{path}:29"
    x, y = data.split("PublicTest")
    assert x.shape == (7, 48, 48) and y.tolist() == list(range(7))
    assert data.counts() == {"Training": [2] * 7, "PublicTest": [1] * 7, "PrivateTest": [1] * 7}
    with pytest.raises(UserError, match="unknown split 'Test'"):
        data.split("Test")


def test_train_csv_without_usage_and_per_class(tmp_path, synth):
    path = tmp_path / "train.csv"
    images = synth.write_csv(path, [(3, None), (3, None), (0, None), (3, None)], usage=False)
    data = load(tmp_path, cache=False)  # a folder holding train.csv
    assert data.splits.tolist() == ["Training"] * 4 and data.labels.tolist() == [3, 3, 0, 3]
    limited = load(path, per_class=2, cache=False)
    assert limited.labels.tolist() == [3, 3, 0]
    np.testing.assert_array_equal(limited.images, images[:3])


@pytest.mark.parametrize("edit, message", [
    (lambda cells: cells.__setitem__(1, " ".join(["7"] * 2303)),
     r"line 3: 2303 pixel values, expected 2304"),
    (lambda cells: cells.__setitem__(1, "x " + " ".join(["7"] * 2303)),
     r"line 3: pixel value 'x' is not a number 0..255"),
    (lambda cells: cells.__setitem__(0, "9"), r"line 3: emotion label 9 outside 0..6"),
    (lambda cells: cells.__setitem__(0, "happy"), r"line 3: emotion 'happy' is not a number"),
    (lambda cells: cells.__setitem__(2, "Test"), r"line 3: Usage 'Test'"),
])
def test_bad_csv_rows_name_the_line(tmp_path, synth, edit, message):
    path = tmp_path / "fer2013.csv"
    synth.write_csv(path, [(0, "Training"), (1, "Training"), (2, "PublicTest")])
    lines = path.read_text().splitlines()
    cells = lines[2].split(",")
    edit(cells)
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=message) as err:
        load(path, cache=False)
    assert str(path) in str(err.value)


def test_release_folder_and_zip_identical(release_dir, synth, tmp_path):
    root, images = release_dir
    data = load(root, cache=False)
    order = sorted(synth.RELEASE)
    assert [p[len(str(root)) + 1:] for p in data.paths] == [m for m, _, _ in order]
    assert data.labels.tolist() == [label for _, label, _ in order]
    assert data.splits.tolist() == [s for _, _, s in order]
    np.testing.assert_array_equal(data.images, np.stack([images[m] for m, _, _ in order]))
    zdata = load(synth.zip_folder(root, tmp_path / "release.zip"), cache=False)
    np.testing.assert_array_equal(zdata.images, data.images)
    assert zdata.labels.tolist() == data.labels.tolist() and zdata.splits.tolist() == data.splits.tolist()


def test_per_class_takes_first_sorted_names(release_dir):
    root, _ = release_dir
    data = load(root, per_class=2, cache=False)
    angry = [p.rsplit("/", 1)[1] for p, label in zip(data.paths, data.labels) if label == 0]
    assert angry == ["Training_1.png", "Training_2.png"]
    assert data.counts() == {"Training": [2, 0, 0, 1, 0, 0, 1], "PublicTest": [0, 0, 0, 1, 0, 0, 0],
                             "PrivateTest": [0, 0, 0, 1, 1, 0, 0]}


def test_synonyms_conversion_and_unknown_folders(tmp_path, synth):
    root = tmp_path / "faces"
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    synth.write_png(root / "Happiness" / "a.png", rgb)  # 64x64 RGB
    synth.write_png(root / "ANGER" / "b.png", synth.pixels_of(2))
    synth.write_png(root / "afraid" / "c.png", synth.pixels_of(3))
    synth.write_png(root / "Surprised" / "d.png", synth.pixels_of(4))
    synth.write_png(root / "confused" / "e.png", synth.pixels_of(5))
    with pytest.warns(DataWarning, match="skipped 1 image.*'confused'"):
        data = load(root, cache=False)
    assert sorted(data.labels.tolist()) == [0, 2, 3, 5]
    assert set(data.splits.tolist()) == {"Training"}
    happy = data.images[data.labels == 3][0]
    reference = np.asarray(Image.fromarray(rgb).convert("L").resize((48, 48), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(happy, reference)
    np.testing.assert_array_equal(data.images[data.labels == 0][0], synth.pixels_of(2))
    assert [match_class(n) for n in ("mad", "Disgusted", "scared", "joy", "sadness", "calm", "x",
                                     "contempt", "5", "7")] == [0, 1, 2, 3, 4, 6, None, 7, None, None]


def test_split_folders_without_prefixes(tmp_path, synth):
    root = tmp_path / "ds"
    for member in ("train/sad/1.png", "val/sad/2.png", "test/sad/3.png"):
        synth.write_png(root / member, synth.pixels_of(0))
    assert [(e.name, e.split) for e in scan_images(root)] == [
        ("test/sad/3.png", "PrivateTest"), ("train/sad/1.png", "Training"), ("val/sad/2.png", "PublicTest")]


def test_corrupt_image_skipped_or_strict(release_dir, tmp_path, synth):
    root, _ = release_dir
    bad = root / "train" / "happy" / "Training_0.jpg"
    buf = tmp_path / "full.jpg"
    Image.fromarray(synth.pixels_of(0)).save(buf, quality=90)
    bad.write_bytes(buf.read_bytes()[:300])  # truncated JPEG
    with pytest.warns(DataWarning, match="Training_0.jpg"):
        data = load(root, cache=False)
    assert len(data) == len(synth.RELEASE) and len(data.skipped) == 1
    assert str(bad) in data.skipped[0] and str(bad) not in data.paths.tolist()
    with pytest.raises(UserError, match="corrupt image .*Training_0.jpg"):
        load(root, cache=False, strict=True)


def test_prepared_npz_round_trip(classes_csv, tmp_path):
    data = load(classes_csv[0], cache=False)
    save_npz(data, tmp_path / "prep" / "fer2013.npz")
    again = load(tmp_path / "prep")
    np.testing.assert_array_equal(again.images, data.images)
    assert again.labels.tolist() == data.labels.tolist() and again.paths.tolist() == data.paths.tolist()
    assert again.classes == data.classes
    assert load(tmp_path / "prep", per_class=1).counts()["Training"] == [1] * 7


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER2013_DATA", raising=False)
    assert str(default_data_path()) == "data"
    with pytest.raises(UserError, match=r"no FER2013 data at data .*make data.*FER2013_SRC.*--data"):
        load()
    monkeypatch.setenv("FER2013_DATA", str(tmp_path / "elsewhere"))
    assert default_data_path() == tmp_path / "elsewhere"
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UserError, match="x.txt: unsupported data file"):
        load(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: no images"):
        load(tmp_path / "empty", cache=False)


def test_csv_inside_zip_and_binary_csv(classes_csv, tmp_path):
    import zipfile

    path, images, _ = classes_csv
    with zipfile.ZipFile(tmp_path / "kaggle.zip", "w") as zf:
        zf.write(path, "fer2013/fer2013.csv")
    data = load(tmp_path / "kaggle.zip", cache=False)
    np.testing.assert_array_equal(data.images, images)
    assert data.paths[0].endswith("kaggle.zip/fer2013/fer2013.csv:2")
    (tmp_path / "bin.csv").write_bytes(b"emotion,pixels\n\xff\xfe\x00\x01")
    with pytest.raises(UserError, match="bin.csv: not a text CSV file"):
        load(tmp_path / "bin.csv", cache=False)


def test_read_npz_answers_a_missing_or_empty_file_with_a_user_error(tmp_path):
    from keras_fer.data.readers import read_npz

    with pytest.raises(UserError, match="missing.npz: cannot read data file"):
        read_npz(tmp_path / "missing.npz")
    (tmp_path / "zero.npz").write_bytes(b"")
    with pytest.raises(UserError, match=r"zero.npz: empty file \(0 bytes\)"):
        read_npz(tmp_path / "zero.npz")


def _hand_made(path, n=4, **over):
    arrays = {"images": np.zeros((n, 48, 48), np.uint8), "labels": np.arange(n) % 7,
              "splits": np.array(["PublicTest"] * n), "classes": np.array(EMOTIONS),
              "paths": np.array([""] * n)}
    np.savez(path, **{**arrays, **over})
    return path


@pytest.mark.parametrize("over, message", [
    ({"labels": np.array([0, 1, 9, 2])}, "bad.npz: row 2: label 9 is outside 0..6"),
    ({"classes": np.array(EMOTIONS[:3])}, "bad.npz: row 3: label 3 is outside 0..2"),
    ({"labels": np.array([0.0, 1.0, 2.0, 3.0])}, "labels must be integers"),
    ({"labels": np.arange(5)}, r"labels of shape \(5,\), expected \(4,\)"),
    ({"images": np.zeros((4, 40, 40), np.uint8)}, r"images of shape \(4, 40, 40\), expected"),
    ({"images": np.zeros((5, 40, 40), np.uint8)}, r"images of shape \(5, 40, 40\)"),  # 8000 = 5 x 40 x 40
    ({"images": np.full((4, 48, 48), 0.5)}, r"images must be whole numbers 0..255 \(uint8\), got float64"),
    ({"images": np.full((4, 48, 48), 300, np.int32)}, "whole numbers 0..255"),
])
def test_a_hand_made_npz_is_checked_when_read(tmp_path, over, message):
    from keras_fer.data.readers import read_npz

    with pytest.raises(UserError, match=message):
        read_npz(_hand_made(tmp_path / "bad.npz", **over))
    good = read_npz(_hand_made(tmp_path / "good.npz", images=np.full((4, 48, 48), 7, np.int64)))
    assert good.images.dtype == np.uint8 and good.images.max() == 7
