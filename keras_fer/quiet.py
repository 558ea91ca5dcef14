"""Quiet start: TensorFlow's start-up lines (oneDNN, cuInit, absl's "All log messages before
absl::InitializeLog()") are not shown unless ``--verbose`` is given.

Setting ``TF_CPP_MIN_LOG_LEVEL`` before TensorFlow is imported hides the lines TensorFlow logs
once running (cuInit on a machine without a usable GPU), but TensorFlow 2.21 writes the oneDNN
and absl lines from C++ while its libraries load, before it reads that setting. So while
``tensorflow`` is being imported, file descriptor 2 goes to a temporary file, and what was
written there is passed on to stderr afterwards, less those log lines (errors are kept).

``keras_fer.errors.cli_main`` calls ``install()`` before the CLI's ``main`` runs, so every
``python -m keras_fer.<name>``, ``python -m tuning`` and the ``keras-fer`` command are quiet (their
modules import Keras only inside ``main``: tests/test_cli_startup.py). ``import keras_fer`` does
not call it: a library changes no environment variable, import hook or file descriptor of the
process that imports it, whose own TensorFlow logs stay as that process set them.
A user who sets ``TF_CPP_MIN_LOG_LEVEL`` keeps exactly what they asked for; the
value set here is marked by ``MARK``, so that a keras_fer subprocess (experiments, export) is
quiet too, and shows everything when given ``--verbose``.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

VERBOSE = "--verbose"
MARK = "KERAS_FER_QUIET"  # TF_CPP_MIN_LOG_LEVEL was set by install(), not by the user
LOG_LEVEL = "3"  # TensorFlow's C++ info, warnings and errors: failures reach Python as exceptions
# absl's format: severity (Info/Warning) and MMDD, time, thread, file:line] message.
NOISE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are "
                   r"written to STDERR|[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] .*")


def wanted(argv=None, environ=None, modules=None) -> bool:
    """Whether to quiet TensorFlow: no ``--verbose`` among the arguments, no
    ``TF_CPP_MIN_LOG_LEVEL`` set by the user, and TensorFlow not imported yet."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    verbose = any(a == VERBOSE or a.startswith(VERBOSE + "=") for a in argv)
    user_level = "TF_CPP_MIN_LOG_LEVEL" in environ and environ.get(MARK) != "1"
    return not verbose and not user_level and "tensorflow" not in modules


def install(argv=None) -> bool:
    """Set the log level and filter the lines of ``import tensorflow`` (once), if ``wanted``
    (``argv``: the command's arguments, default ``sys.argv[1:]``); with ``--verbose``, drop a
    level that a quiet keras_fer parent process set. For command-line entry points only."""
    if not wanted(argv):
        if os.environ.get(MARK) == "1" and "tensorflow" not in sys.modules:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
            os.environ.pop(MARK, None)
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = LOG_LEVEL
    os.environ[MARK] = "1"
    if not any(isinstance(f, _TensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TensorFlowFinder())
    return True


def keep(text: str) -> str:
    """``text`` without TensorFlow's start-up log lines."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not NOISE.fullmatch(line.rstrip("\r\n")))


@contextlib.contextmanager
def filtered_stderr():
    """File descriptor 2 goes to a temporary file; on exit, its text less ``NOISE`` lines is
    written to the real stderr. Does nothing where fd 2 cannot be duplicated."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = keep(tmp.read().decode("utf-8", errors="replace"))
            if text:
                os.write(2, text.encode("utf-8"))


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and wraps its loader in ``_QuietLoader``.

    It stays in ``sys.meta_path`` (removing itself while the import system walks that list
    would make it skip the next finder); ``searching`` keeps it out of its own search.
    """

    searching = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or self.searching:
            return None
        self.searching = True
        try:
            spec = importlib.util.find_spec(fullname)  # not installed: None, or a finder raises
        finally:
            self.searching = False
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # TensorFlow sees its own loader, as if it had never been wrapped.
        module.__loader__ = module.__spec__.loader = self.loader
        with filtered_stderr():
            self.loader.exec_module(module)
