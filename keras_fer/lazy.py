"""Packages that import their names on first use, so that ``python -m PACKAGE --help`` and a
bad option answer without importing Keras. In a package's ``__init__.py``::

    _EXPORTS = {"run": "core", "TrainingModel": "wrapper"}   # name -> module of the package
    __all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
"""
import importlib


def lazy_exports(package: str, exports: dict):
    """``(__all__, __getattr__)`` for ``package``: each name of ``exports`` is read from
    ``package.<its module>`` when first asked for."""

    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return sorted(exports), __getattr__
