"""keras_fer.lazy: a package's names imported on first use, the same objects as their modules'."""
import subprocess
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


def test_a_lazy_package_imports_a_module_only_when_a_name_of_it_is_asked_for():
    code = ("import sys, keras_fer.augment as a; assert 'keras_fer.augment.ops' not in sys.modules; "
            "f = a.flip_left_right; from keras_fer.augment.ops import flip_left_right; "
            "assert f is flip_left_right; print(sorted(a.__all__) == a.__all__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True"
