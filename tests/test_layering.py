"""A library and a workbench: the library (what an app or a training run needs) never imports the
workbench (tuning's plan and budget, the experiments' reuse and landing, release lineage,
benchmarks, the GPU session's scripts), and no module of keras_fer or tuning imports itself back
through others. Imports are read with ``ast``, function-level ones included: a cycle or a
dependency hidden inside a function is still one."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("keras_fer", "tuning", "scripts")
LIBRARY = ("keras_fer.data", "keras_fer.models", "keras_fer.layers", "keras_fer.augment",
           "keras_fer.train", "keras_fer.evaluate", "keras_fer.export", "keras_fer.predict")
WORKBENCH = ("tuning", "keras_fer.experiments", "keras_fer.release", "keras_fer.bench", "scripts")


def module_files(root):
    """``{dotted name: path}`` of every module of ``PACKAGES`` under ``root``."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported(name, path, known):
    """The modules of ``known`` that module ``name`` imports anywhere in its file (the module
    itself for ``from m import name``, the submodule for ``from package import submodule``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: from the package that holds this module
                base = name.split(".")[:len(name.split(".")) - node.level + (path.name == "__init__.py")]
                module = ".".join(base + ([module] if module else []))
            subs = {f"{module}.{a.name}" for a in node.names} & set(known)
            found.update(subs)
            if len(subs) < len(node.names):  # some names come from the module itself
                found.add(module)
    out = set()
    for module in found:
        while module and module not in known:  # keras_fer.x.y.Thing -> the module that defines it
            module = module.rpartition(".")[0]
        if module and module != name:
            out.add(module)
    return out


def import_graph(root=REPO):
    known = module_files(root)
    return {name: imported(name, path, known) for name, path in known.items()}


def within(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_library(name):
    """The library's modules (their command lines aside: a CLI may be a workbench tool) and
    ``keras_fer/__init__.py``, which holds ``load()``."""
    leaf = name.rpartition(".")[2]
    return name == "keras_fer" or (within(name, LIBRARY) and leaf not in ("cli", "__main__"))


def workbench_reached(graph):
    """``{library module: [workbench modules it reaches, directly or through others]}``."""
    out = {}
    for name in filter(is_library, graph):
        seen, todo = set(), [name]
        while todo:
            for other in graph[todo.pop()] - seen:
                seen.add(other)
                todo.append(other)
        if bad := sorted(m for m in seen if within(m, WORKBENCH)):
            out[name] = bad
    return out


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_library_never_imports_the_workbench():
    graph = import_graph()
    assert sum(map(is_library, graph)) > 40 and "keras_fer.train.core" in graph
    assert workbench_reached(graph) == {}


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 100
    assert cycles(graph) == []


def _tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path)


def test_the_checkers_see_function_level_relative_and_indirect_imports(tmp_path):
    graph = _tree(tmp_path, {
        "keras_fer/__init__.py": "def load():\n    from keras_fer.predict import core\n",
        "keras_fer/predict/__init__.py": "",
        "keras_fer/predict/core.py": "from .faces import detect\n",
        "keras_fer/predict/faces.py": ("from keras_fer import EMOTIONS\n\n\ndef detect():\n"
                                       "    import keras_fer.bench.timing\n"),
        "keras_fer/predict/cli.py": "import tuning.search\n",  # a CLI may use the workbench
        "keras_fer/bench/__init__.py": "", "keras_fer/bench/timing.py": "",
        "keras_fer/data/__init__.py": "from keras_fer import EMOTIONS\n",
        "keras_fer/rundir.py": "def f():\n    from keras_fer.data import load\n",
        "tuning/__init__.py": "", "tuning/search.py": "", "scripts/x.py": "",
    })
    assert graph["keras_fer.predict.core"] == {"keras_fer.predict.faces"}
    assert workbench_reached(graph) == {name: ["keras_fer.bench.timing"] for name in (
        "keras_fer", "keras_fer.data", "keras_fer.predict.core", "keras_fer.predict.faces")}
    assert cycles(graph) == [["keras_fer", "keras_fer.predict.core", "keras_fer.predict.faces"]]
    graph["keras_fer.predict.faces"] = set()  # without its function-level and EMOTIONS imports
    assert workbench_reached(graph) == {} and cycles(graph) == []
