"""keras_fer.lazy: a package's names imported on first use, the same objects as their modules'."""
import sys

import pytest

from keras_fer.lazy import lazy_exports


def test_names_come_from_their_modules_and_unknown_ones_are_attribute_errors():
    names, getattr_ = lazy_exports("keras_fer", {"write_json": "io_utils", "UserError": "errors"})
    assert names == ["UserError", "write_json"]
    from keras_fer.errors import UserError
    from keras_fer.io_utils import write_json

    assert getattr_("write_json") is write_json and getattr_("UserError") is UserError
    with pytest.raises(AttributeError, match="module 'keras_fer' has no attribute 'nope'"):
        getattr_("nope")


def test_a_lazy_package_imports_a_module_only_when_a_name_of_it_is_asked_for(tmp_path, monkeypatch):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from keras_fer.lazy import lazy_exports\n"
                                     "_EXPORTS = {'f': 'mod'}\n"
                                     "__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)\n")
    (pkg / "mod.py").write_text("def f():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazypkg

    assert "lazypkg.mod" not in sys.modules and lazypkg.__all__ == ["f"]
    assert lazypkg.f() == 42 and "lazypkg.mod" in sys.modules
    from lazypkg import f
    from lazypkg.mod import f as same

    assert f is same
    for name in ("lazypkg", "lazypkg.mod"):
        monkeypatch.delitem(sys.modules, name)
