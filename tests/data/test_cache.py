"""The decoded-array cache: used on the second load, invalidated when the source changes."""
import os

import numpy as np
import pytest

from keras_fer.data import DataWarning, cache_file, load, loader


def _counting_readers(monkeypatch):
    calls = []
    for name in ("read_images", "read_csv"):
        real = getattr(loader, name)

        def wrapped(*a, _real=real, **k):
            calls.append(a[0])
            return _real(*a, **k)

        monkeypatch.setattr(loader, name, wrapped)
    return calls


def test_cache_hit_and_mtime_invalidation(release_dir, synth, tmp_path, monkeypatch):
    root, _ = release_dir
    src = synth.zip_folder(root, tmp_path / "release.zip")
    calls = _counting_readers(monkeypatch)
    cache = tmp_path / "c"
    first = load(src, cache_dir=cache)
    assert cache_file(src, None, cache).is_file() and len(calls) == 1
    second = load(src, cache_dir=cache)
    assert len(calls) == 1  # served from the cache
    np.testing.assert_array_equal(second.images, first.images)
    assert second.paths.tolist() == first.paths.tolist()
    load(src, per_class=1, cache_dir=cache)  # per_class has its own entry
    assert len(calls) == 2
    old = cache_file(src, None, cache)
    st = os.stat(src)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load(src, cache_dir=cache)
    assert len(calls) == 3  # the zip changed: read again
    assert cache_file(src, None, cache) != old and not old.exists()  # the stale copy is gone
    assert len(list(cache.glob("*.npz"))) == 2  # the new full copy and the per_class one
    load(src, cache_dir=cache, cache=False)
    assert len(calls) == 4


def test_folder_cache_invalidated_by_a_changed_file(release_dir, monkeypatch, tmp_path):
    root, _ = release_dir
    calls = _counting_readers(monkeypatch)
    key = cache_file(root)
    assert key.parent == tmp_path / "cache"  # $KERAS_FER_CACHE
    load(root)
    load(root)
    assert len(calls) == 1
    inner = root / "train" / "happy" / "Training_9.png"
    st = os.stat(inner)
    os.utime(inner, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache_file(root) != key
    load(root)
    assert len(calls) == 2


def test_small_reads_not_cached_by_default(classes_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "CACHE_MIN_IMAGES", 1000)
    load(classes_csv[0], cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_corrupt_cache_file_is_ignored(classes_csv, tmp_path):
    path = classes_csv[0]
    data = load(path)
    cache_file(path).write_bytes(b"not an npz")
    with pytest.warns(DataWarning, match="ignoring unreadable cache file"):
        again = load(path)
    np.testing.assert_array_equal(again.images, data.images)
