"""The package stays readable: subpackages by stage and concern, tests that mirror them, no import cycles, one name
per job, short modules and functions, and no bare print or subprocess in library code."""

import ast
import collections

import pytest

from .conftest import REPO

PACKAGE = REPO / "evaluator"
# Every module of the package, in every folder (conf/ holds data, linked in from the checkout's root).
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "conf" not in p.relative_to(PACKAGE).parts)
SUBPACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name != "conf")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60
# The commands and what they share; everything else lives in a subpackage.
TOP_LEVEL = {
    "__init__.py",
    "__main__.py",
    "cli.py",
    "pipeline.py",
    "arena.py",
    "report.py",
    "compare.py",
    "export.py",
    "convert.py",
}


def _module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_only_the_commands_sit_at_the_top_and_every_subpackage_has_its_tests():
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_LEVEL
    assert {"config", "runtime", "inputs", "scoring", "results", "judge", "edit", "bench"} <= set(SUBPACKAGES)
    tests = {p.name for p in (REPO / "tests").iterdir() if (p / "__init__.py").is_file()}
    assert set(SUBPACKAGES) <= tests, "tests/ mirrors the package: one folder per subpackage"
    stray = [p.name for p in (REPO / "tests").glob("test_*.py") if p.stem not in ("test_packaging", "test_structure")]
    assert stray == [], "a test of one subpackage belongs in its folder"


def test_no_import_cycles_between_modules():
    names = {_module_name(p): p for p in MODULES}
    graph = collections.defaultdict(set)
    for name, path in names.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evaluator"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph[name].add(target if target in names else node.module)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name, path):
        state[name] = 1
        for dep in graph[name] - {name}:
            assert state.get(dep) != 1, f"import cycle: {' -> '.join([*path, dep])}"
            if dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in names:
        if name not in state:
            visit(name, [name])


def test_no_two_public_functions_share_a_name():
    # A command's ``main`` and a stage's ``run`` are one job each, wherever they live.
    defined = collections.defaultdict(list)
    for path in MODULES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                defined[node.name].append(_module_name(path))
    shared = {name: where for name, where in defined.items() if len(where) > 1 and name not in ("main", "run")}
    assert shared == {}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_module_and_function_sizes(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


# The one module that starts programs by hand (a vLLM server in an interpreter of its own, under a watchdog).
PROCESS_LAUNCHER = "evaluator.runtime.processes"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_no_print_or_subprocess_in_library_code(path):
    tree = ast.parse(path.read_text())
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "print" not in calls
    assert "subprocess" not in imports or _module_name(path) == PROCESS_LAUNCHER
