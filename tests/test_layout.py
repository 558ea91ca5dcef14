"""How the code is laid out: only a package's ``__main__.py`` imports a command line's module
(``cli.py``); what several commands share lives in library modules."""
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


def test_the_model_registry_imports_every_family():
    models = REPO / "keras_fer" / "models"
    families = ({p.stem for p in models.glob("*.py")}
                | {p.name for p in models.iterdir() if (p / "__init__.py").is_file()})
    families -= {"__init__", "__main__", "common", "registry"}
    tree = ast.parse((models / "__init__.py").read_text(encoding="utf-8"))
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "keras_fer.models" for a in node.names}
    assert {"blockcnn", "resnet", "vit"} <= families  # a package and single modules are seen
    assert families <= imported  # each registers its models when keras_fer.models is imported
