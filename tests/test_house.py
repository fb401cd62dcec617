"""The house keeps its shape: no import cycle, no import against the flow, short functions, a docstring atop every
file, one shape for every entry point, the habits of the signatures, a public API per concept package that is cheap
to import, and a map in docs/development.md that is true to the tree."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "forams_lightning"
ROOT = PACKAGE.parent
CONCEPTS = ("library", "identify", "review", "review.web", "data", "evaluation")
ENTRY_POINTS = ("train", "eval", "export", "morphospace", "identify.__main__", "review.__main__",
                "library.__main__")
MAX_LINES = 60  # of a function, from its `def` to its last line
# methods a framework calls with positional arguments (Lightning's hooks, PML's and torch's interfaces)
FRAMEWORK_CALLS = {"forward", "compute_loss", "training_step", "validation_step", "test_step", "predict_step"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, ast.Module]:
    return {_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(tree: ast.Module, top_level: bool) -> set[str]:
    """The package's modules `tree` imports (at its top level only, or anywhere; never under TYPE_CHECKING)."""
    nodes = [n for n in tree.body if not isinstance(n, ast.If)] if top_level else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not _under_type_checking(tree, node):
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in _modules()}


def _under_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    return any(isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING" and node in ast.walk(n)
               for n in tree.body)


def _functions(tree: ast.Module):
    """(function, is a method) of every function in `tree`."""
    methods = {id(f) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, id(node) in methods


def _framework_calls(tree: ast.Module) -> set[str]:
    """Methods a framework calls with positional arguments: Lightning's hooks (`on_*`, and methods assigned to
    them), and the interfaces of PML and torch (`FRAMEWORK_CALLS`)."""
    hooked = {node.value.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
              and isinstance(node.value, ast.Name)
              and any(getattr(t, "id", "").startswith("on_") for t in node.targets)}
    named = {f.name for f, _ in _functions(tree) if f.name.startswith("on_")}
    return FRAMEWORK_CALLS | hooked | named


def test_no_module_imports_itself_round_a_cycle():
    graph = {m: _imports(t, top_level=False) - {m} for m, t in _modules().items()}
    seen: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, f"import cycle: {' -> '.join(path[path.index(module):] + [module])}"
        if module in seen:
            return
        for other in graph[module]:
            visit(other, path + [module])
        seen.add(module)

    for module in graph:
        visit(module, [])


# Who may not import whom (prefixes of module names; imports anywhere in a module count): data flows one way.
FORBIDDEN = {
    "forams_lightning.metrics": ("forams_lightning.", "pytorch_lightning"),
    "forams_lightning.evaluation": ("forams_lightning.callbacks", "forams_lightning.models", "forams_lightning.library",
                                    "forams_lightning.identify", "forams_lightning.review", "pytorch_lightning"),
    "forams_lightning.data": ("forams_lightning.models", "forams_lightning.library", "forams_lightning.identify",
                              "forams_lightning.review", "forams_lightning.callbacks", "forams_lightning.evaluation"),
    "forams_lightning.library": ("forams_lightning.identify", "forams_lightning.review", "forams_lightning.callbacks"),
    "forams_lightning.identify": ("forams_lightning.review", "forams_lightning.callbacks"),
    "forams_lightning.viz": ("forams_lightning.library", "forams_lightning.identify", "forams_lightning.review"),
    "forams_lightning.review": ("forams_lightning.callbacks",),
}
ALLOWED_INSIDE = {"forams_lightning.metrics": "forams_lightning.metrics"}  # metrics may import metrics


def _all_imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_room_imports_against_the_flow():
    wrong = []
    for module, tree in _modules().items():
        for room, refused in FORBIDDEN.items():
            if not (module == room or module.startswith(room + ".")):
                continue
            for imported in _all_imports(tree):
                inside = ALLOWED_INSIDE.get(room)
                if inside and imported.startswith(inside):
                    continue
                if any(imported == r or imported.startswith(r if r.endswith(".") else r + ".") for r in refused):
                    wrong.append(f"{module} imports {imported}")
    assert not wrong


def test_nothing_imports_an_entry_point():
    """Nor a command's package as a whole: inside the package a name comes from the module that defines it."""
    entry = {f"forams_lightning.{e}" for e in ENTRY_POINTS}
    entry |= {e.removesuffix(".__main__") for e in entry}
    wrong = [f"{m} imports {i}" for m, t in _modules().items() for i in _all_imports(t) & entry if m != i]
    assert not wrong


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_is_hydra_main_calling_one_command_function(entry):
    """Hydra's main -> a command function (config in, plain domain calls out) -> the domain."""
    tree = _modules()[f"forams_lightning.{entry}"]
    main = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "main")
    decorators = [ast.unparse(d) for d in main.decorator_list]
    assert decorators[0].startswith("hydra.main(") and decorators[1] == "entry_point"
    body = [s for s in main.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    assert len(body) == 1 and isinstance(getattr(body[0], "value", None), ast.Call), ast.unparse(main)
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and "answer_version()" in ast.unparse(guard)


def test_every_file_says_what_it_holds_and_every_function_is_short():
    undocumented = [m for m, t in _modules().items() if not ast.get_docstring(t) and not m.endswith("__init__")
                    and (PACKAGE.parent / (m.replace(".", "/") + ".py")).exists()]
    long = []
    for module, tree in _modules().items():
        for function, _ in _functions(tree):
            lines = function.end_lineno - function.lineno + 1
            if lines > MAX_LINES:
                long.append(f"{module}.{function.name}: {lines} lines")
    assert not undocumented and not long, (undocumented, long)


def _parameters(function: ast.FunctionDef, method: bool) -> tuple[list[str], list[str]]:
    """(positional, keyword-only) parameter names, self and cls left out."""
    positional = [a.arg for a in function.args.posonlyargs + function.args.args]
    if method and positional[:1] in (["self"], ["cls"]):
        positional = positional[1:]
    return positional, [a.arg for a in function.args.kwonlyargs]


def test_functions_of_more_than_four_parameters_take_the_rest_by_keyword():
    wrong = []
    for module, tree in _modules().items():
        for function, method in _functions(tree):
            positional, keyword = _parameters(function, method)
            if len(positional) > 4 and not (method and function.name in _framework_calls(tree)):
                wrong.append(f"{module}.{function.name}({', '.join(positional)})")
    assert not wrong


@cache
def _documented_methods() -> set[tuple[str, str]]:
    """(class, method) of every method of the package whose docstring has its `Args:`."""
    return {(c.name, f.name) for t in _modules().values() for c in ast.walk(t) if isinstance(c, ast.ClassDef)
            for f in c.body if isinstance(f, ast.FunctionDef) and "Args:" in (ast.get_docstring(f) or "")}


def _overrides_documented(tree: ast.Module, function: ast.FunctionDef) -> bool:
    """An override of a base class's method that says its Args (a subclass implements the interface it names)."""
    return any(function in c.body and any((getattr(b, "id", ""), function.name) in _documented_methods()
                                          for b in c.bases) for c in ast.walk(tree) if isinstance(c, ast.ClassDef))


def _api_functions(tree: ast.Module):
    """(function, is a method) of the module's own functions and its classes' methods (not nested helpers)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, False
        elif isinstance(node, ast.ClassDef):
            yield from ((f, True) for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)))


def test_public_functions_of_more_than_three_parameters_say_each_in_args():
    wrong = []
    for module, tree in _modules().items():
        for function, method in _api_functions(tree):
            if method and _overrides_documented(tree, function):
                continue
            positional, keyword = _parameters(function, method)
            names = [n for n in positional + keyword if n not in ("args", "kwargs")]
            if function.name.startswith("_") and function.name != "__init__" or len(names) <= 3:
                continue
            if method and function.name in _framework_calls(tree):
                continue
            doc = ast.get_docstring(function) or ""
            if function.name == "__init__":  # a class may say its constructor's Args in its own docstring
                doc += "\n" + next(ast.get_docstring(c) or "" for c in ast.walk(tree)
                                    if isinstance(c, ast.ClassDef) and function in c.body)
            section = doc.split("Args:", 1)[1] if "Args:" in doc else ""
            missing = [n for n in names if not re.search(rf"^\s+{n}\b", section, re.M)]
            if missing:
                wrong.append(f"{module}.{function.name}: {missing}")
    assert not wrong


def _declared_api(package: str) -> tuple[list[str], dict[str, list[str]], dict[str, set[str]]]:
    """(`__all__`, the lazy loader's map, the names imported for type checkers, by module) of a concept package."""
    tree = _modules()[f"forams_lightning.{package}"]
    values = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
              if isinstance(t, ast.Name)}
    checked: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _under_type_checking(tree, node):
            checked.setdefault(node.module.rsplit(".", 1)[1], set()).update(a.name for a in node.names)
    return ast.literal_eval(values["__all__"]), ast.literal_eval(values["_API"]), checked


@pytest.mark.parametrize("package", CONCEPTS)
def test_each_concept_package_names_its_api_once_in_three_agreeing_places(package):
    names, lazy, checked = _declared_api(package)
    assert names == sorted(names) and set(names) == {n for ns in lazy.values() for n in ns}
    assert {m: set(ns) for m, ns in lazy.items()} == checked
    module = importlib.import_module(f"forams_lightning.{package}")
    submodules = {p.stem for p in (PACKAGE / package.replace(".", "/")).glob("*.py")} | \
        {p.name for p in (PACKAGE / package.replace(".", "/")).iterdir() if (p / "__init__.py").is_file()}
    assert not set(names) & submodules  # importing a submodule would shadow the name
    for name in names:
        value = getattr(module, name)
        defined = next(m for m, ns in lazy.items() if name in ns)
        assert value is getattr(importlib.import_module(f"forams_lightning.{package}.{defined}"), name)


def test_importing_the_concept_packages_imports_no_torch():
    code = ("import sys\nimport forams_lightning.library, forams_lightning.identify, forams_lightning.review\n"
            "import forams_lightning.review.web, forams_lightning.data, forams_lightning.evaluation\n"
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "False"]


def _mapped() -> set[str]:
    """The modules and sub-packages docs/development.md's map of the house names: a line indented by two spaces is
    a top-level item (a folder `name/` with its modules, or top-level modules), by four a sub-folder of the last
    folder, by more the continuation of the item above."""
    text = (ROOT / "docs" / "development.md").read_text()
    block = text.split("## The house", 1)[1].split("```", 2)[1].splitlines()
    named: set[str] = set()
    folder, parent = "", ""
    for line in block[2:]:
        indent, words = len(line) - len(line.lstrip()), line.split()
        if not words:
            continue
        if indent in (2, 4):
            head = words[0]
            if head.endswith("/"):
                folder = head.rstrip("/") if indent == 2 else f"{parent}/{head.rstrip('/')}"
                parent = folder if indent == 2 else parent
                named.add(folder)
            else:
                folder = parent = ""
        modules = re.findall(r"(?<![\w/])([a-z_]+)\.py\b", line)
        named |= {f"{folder}/{m}" if folder else m for m in modules}
    return named


def _tree() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if path.name == "__init__.py":
            if relative.parent.parts:
                found.add("/".join(relative.parent.parts))
            continue
        found.add("/".join(relative.with_suffix("").parts))
    return found


def test_the_map_of_the_house_names_every_module_and_nothing_else():
    mapped, tree = _mapped(), _tree()
    assert not tree - mapped, f"in the tree, not on the map: {sorted(tree - mapped)}"
    assert not mapped - tree, f"on the map, not in the tree: {sorted(mapped - tree)}"


OWN_FOLDERS = {"faults", "experiments", "fixtures"}  # the fault suites, the studies' scripts, recorded inputs
CROSS_CUTTING = {"house", "docs", "config", "compatibility", "distributed", "gpu", "sweeps"}


def test_the_tests_mirror_the_package():
    """tests/<room>/test_<module>.py tests forams_lightning/<room>/<module>.py; tests/test_<module>.py a top-level
    module (or the whole: the house, the docs, the config, compatibility, DDP, the GPU, sweeps)."""
    tests = ROOT / "tests"
    wrong = []
    for path in sorted(tests.rglob("test_*.py")):
        relative = path.relative_to(tests)
        if relative.parts[0] in OWN_FOLDERS:
            continue
        module = PACKAGE.joinpath(*relative.parts[:-1], path.stem.removeprefix("test_") + ".py")
        if not module.is_file() and not (len(relative.parts) == 1 and path.stem[5:] in CROSS_CUTTING):
            wrong.append(str(relative))
    assert not wrong
