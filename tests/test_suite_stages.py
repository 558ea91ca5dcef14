"""The two stages of the suite: `make test` (quick) leaves out the tests marked e2e, which
`make test-e2e` runs; CI (.ci/run) runs both (`make test E2E=1`), less the tests marked long
(the slowest end-to-end checks, pytest.ini), which `make test-long` runs."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import E2E, LONGEST_FIRST, require_data_set

REPO = Path(__file__).resolve().parents[1]


def test_every_e2e_entry_names_a_test_that_exists():
    for entry in sorted(E2E):
        path, _, name = entry.partition("::")
        assert (REPO / path).is_file(), entry
        name, _, case = name.partition("[")  # a parametrized case: test_x[its id]
        if name:
            assert re.search(rf"^def {name}\(", (REPO / path).read_text(), re.M), entry
        if case:
            assert f'("{case[:-1]}",' in (REPO / path).read_text(), entry


def test_the_longest_modules_exist_and_are_run_first():
    """LONGEST_FIRST names modules (a renamed one would silently lose its place), and the hook
    puts their tests first, in that order, each module whole and in its own order."""
    from types import SimpleNamespace

    from tests.conftest import pytest_collection_modifyitems

    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    for path in LONGEST_FIRST:
        assert (REPO / path).is_file(), path
    paths = ["tests/a.py", "tests/a.py", LONGEST_FIRST[1], "tests/b.py", LONGEST_FIRST[0],
             LONGEST_FIRST[1]]
    items = [SimpleNamespace(fspath=str(REPO / p), name=f"t{k}", originalname=f"t{k}",
                             add_marker=lambda mark: None) for k, p in enumerate(paths)]
    pytest_collection_modifyitems(None, items)
    assert [item.name for item in items] == ["t4", "t2", "t5", "t0", "t1", "t3"]


def pytest_selections(*make_args):
    """The ``-m`` selections of the pytest commands ``make MAKE_ARGS`` would run (``make -n``),
    without the variables of a make that runs this test (``make test E2E=1`` passes E2E down)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "E2E")}
    out = subprocess.run(["make", "-n", *make_args], cwd=REPO, capture_output=True, text=True,
                         check=True, env=env).stdout
    return [(ln.startswith("KERAS_BACKEND=jax"), re.search(r' -m ("[^"]*"|\S+) tests$', ln)[1].strip('"'))
            for ln in out.splitlines() if " -m pytest " in ln]


def test_ci_runs_both_stages_and_each_selects_its_half():
    steps = [ln.split("#")[0].strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
             if ln.startswith("make")]
    assert steps == ["make lint", "make test E2E=1"]
    assert pytest_selections("test") == [(False, "not e2e"), (True, "backends and not e2e")]
    assert pytest_selections("test-e2e") == [(False, "e2e"), (True, "backends and e2e")]
    # CI: both halves in one run per backend
    assert pytest_selections("test", "E2E=1") == [(False, "not long"), (True, "backends")]
    assert pytest_selections("test-long") == [(False, "long")]


def test_the_marker_is_given_to_a_listed_test_only():
    collect = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:randomly",
               "tests/test_quiet.py"]
    e2e = subprocess.run([*collect, "-m", "e2e"], cwd=REPO, capture_output=True, text=True)
    quick = subprocess.run([*collect, "-m", "not e2e"], cwd=REPO, capture_output=True, text=True)
    picked = [ln for ln in e2e.stdout.splitlines() if "::" in ln]
    assert picked == ["tests/test_quiet.py::test_a_cli_that_imports_tensorflow_writes_nothing_to_stderr"]
    left = [ln for ln in quick.stdout.splitlines() if "::" in ln]
    assert len(left) >= 3 and picked[0] not in left


def test_a_missing_data_set_fails_under_ci_where_shared_exists_and_skips_elsewhere(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    missing = shared / "datasets" / "fer2013.zip"
    outcomes = (pytest.fail.Exception, pytest.skip.Exception)  # a skip escaping would skip this
    with pytest.raises(outcomes) as raised:
        require_data_set(missing, shared, "true")
    assert raised.type is pytest.fail.Exception
    assert "fer2013.zip not present, while CI is set" in str(raised.value)
    for where, ci in ((shared, ""), (shared, "false"), (tmp_path / "no_shared", "true")):
        with pytest.raises(outcomes) as raised:
            require_data_set(missing, where, ci)
        assert raised.type is pytest.skip.Exception
    missing.parent.mkdir()
    missing.write_bytes(b"zip")
    assert require_data_set(missing, shared, "true") == missing


def test_no_test_reads_the_prepared_data_folder():
    """data/ is what `make data` builds: absent from a clean clone (CI's), so a test that reads
    it skips there unseen, as the 5-minute search test did. Real data comes from the fixtures
    fer_zip / fer_small (../shared's zip, tests/conftest.py), which fail under CI instead."""
    pattern = re.compile(r"""REPO\s*/\s*["']data["']""")
    readers = [str(path.relative_to(REPO)) for path in sorted((REPO / "tests").rglob("*.py"))
               if path != Path(__file__) and pattern.search(path.read_text(encoding="utf-8"))]
    assert readers == [], readers
    assert pattern.search('data = REPO / "data" / "fer2013.npz"')  # what the guard looks for
