"""How the code is laid out: every command package has the same files (``cli.py`` the parser and
``main``, ``core.py`` or named modules the logic, ``__init__.py`` re-exports only, ``__main__.py``
calls ``cli.main``); only a ``__main__.py`` imports a command line's module; what several commands
share lives in library modules."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli_imports(path):
    """The ``*.cli`` modules that the file at ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[-1] == "cli"]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[-1] == "cli":
                found.append(node.module)
            found += [f"{node.module}.cli" for a in node.names if a.name == "cli"]
    return found


def test_only_main_modules_import_cli_modules():
    files = [p for pkg in ("keras_fer", "tuning") for p in sorted((REPO / pkg).rglob("*.py"))
             if p.name != "__main__.py"]
    assert len(files) > 50
    offenders = {str(p.relative_to(REPO)): cli_imports(p) for p in files if cli_imports(p)}
    assert offenders == {}


def test_the_checker_sees_both_import_forms(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from keras_fer.export.cli import main\nfrom keras_fer.release import cli\n"
                    "import keras_fer.data.cli\nfrom keras_fer.clip import x\n")
    assert cli_imports(path) == ["keras_fer.export.cli", "keras_fer.release.cli",
                                 "keras_fer.data.cli"]


def lazy_exports(init):
    """The ``_EXPORTS`` dict (name -> submodule) of a package's ``__init__.py``."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_EXPORTS"]:
            return ast.literal_eval(node.value)
    return {}


def test_the_model_registry_imports_every_family():
    models = REPO / "keras_fer" / "models"
    families = ({p.stem for p in models.glob("*.py")}
                | {p.name for p in models.iterdir() if (p / "__init__.py").is_file()})
    families -= {"__init__", "__main__", "cli", "common", "core", "registry"}
    # the module that keras_fer.models takes build and create_model from imports every family
    exports = lazy_exports(models / "__init__.py")
    assert exports["build"] == exports["create_model"] == exports["list_models"]
    entry = models / f"{exports['build']}.py"
    tree = ast.parse(entry.read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "build" for n in tree.body)
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "keras_fer.models" for a in node.names}
    assert {"blockcnn", "resnet", "vit"} <= families  # a package and single modules are seen
    assert families <= imported  # each registers its models when build/create_model is asked for


def _names(target):
    """The names an assignment target binds: ``x`` -> [x], ``a, b`` -> [a, b]."""
    elts = target.elts if isinstance(target, ast.Tuple) else [target]
    return [getattr(t, "id", None) for t in elts]


def layout_faults(package, root=REPO):
    """What in the package ``package`` (dotted: ``keras_fer.train``, ``tuning``) breaks the
    command layout: ``cli.py`` holds ``main``, ``__main__.py`` imports it, ``__init__.py`` only
    imports and re-exports (``__all__``, or the lazy ``_EXPORTS`` + ``__getattr__`` of
    ``keras_fer.lazy`` in packages that must not import Keras)."""
    folder = root.joinpath(*package.split("."))
    faults = []
    cli = folder / "cli.py"
    if not cli.is_file() or not any(isinstance(n, ast.FunctionDef) and n.name == "main"
                                     for n in ast.parse(cli.read_text(encoding="utf-8")).body):
        faults.append("no main in cli.py")
    main_tree = ast.parse((folder / "__main__.py").read_text(encoding="utf-8"))
    if not any(isinstance(n, ast.ImportFrom) and n.module == f"{package}.cli"
               and [a.name for a in n.names] == ["main"] for n in ast.walk(main_tree)):
        faults.append("__main__.py does not import cli.main")
    for node in ast.parse((folder / "__init__.py").read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Assign) and [_names(t) for t in node.targets] in (
                [["__all__"]], [["_EXPORTS"]], [["__all__", "__getattr__"]]):
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        faults.append(f"__init__.py line {node.lineno}: {type(node).__name__}")
    return faults


def test_command_packages_share_one_layout():
    packages = sorted(f"keras_fer.{p.parent.name}" for p in (REPO / "keras_fer").glob("*/__main__.py"))
    assert {f"keras_fer.{p}" for p in ("evaluate", "release", "ensemble", "export", "predict",
                                        "data", "models", "augment", "bench")} <= set(packages)
    packages.append("tuning")
    faults = {p: layout_faults(p) for p in packages}
    assert {p: f for p, f in faults.items() if f} == {}


def test_the_layout_checker_sees_logic_in_an_init(tmp_path):
    pkg = tmp_path / "keras_fer" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "cli.py").write_text("def main(argv=None):\n    return 0\n")
    (pkg / "__main__.py").write_text("import sys\nfrom keras_fer.demo.cli import main\nsys.exit(main())\n")
    (pkg / "__init__.py").write_text('"""Doc."""\nfrom keras_fer.demo.core import f\n\n__all__ = ["f"]\n')
    assert layout_faults("keras_fer.demo", tmp_path) == []
    (pkg / "__init__.py").write_text('"""Doc."""\nX = 1\n\n\ndef f():\n    return X\n')
    assert layout_faults("keras_fer.demo", tmp_path) == ["__init__.py line 2: Assign",
                                               "__init__.py line 5: FunctionDef"]
    (pkg / "__main__.py").write_text("from keras_fer.demo.core import main\n")
    assert layout_faults("keras_fer.demo", tmp_path)[0] == "__main__.py does not import cli.main"


# Public names that several modules define on purpose: each command's entry points, and names
# whose meanings differ by module (keras_fer.load a model, keras_fer.data.load a data set).
SHARED_NAMES = {"main", "build_parser", "load", "run", "summary_line", "table"}


def defined_twice(files):
    """``{name: [files]}`` of public top-level functions and classes defined in several files."""
    where = {}
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(str(path.relative_to(REPO)))
    return {name: paths for name, paths in where.items() if len(paths) > 1}


def test_one_of_each_public_name():
    """One history reader, one curves plotter, one tensorboard_callbacks, one make_plan: a
    second definition of a public name is a second way of doing the same thing."""
    files = [p for pkg in ("keras_fer", "tuning") for p in sorted((REPO / pkg).rglob("*.py"))]
    twice = defined_twice(files)
    assert {"main", "build_parser"} <= set(twice)  # the checker sees them
    assert {name: paths for name, paths in twice.items() if name not in SHARED_NAMES} == {}
