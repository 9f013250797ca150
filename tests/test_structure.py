"""The package stays readable: short modules and functions, no bare print and no subprocess in library code."""

import ast

import pytest

from .conftest import REPO

# Every module of the package, in every folder (conf/ holds data, linked in from the checkout's root).
MODULES = sorted(p for p in (REPO / "evaluator").rglob("*.py") if "conf" not in p.relative_to(REPO / "evaluator").parts)
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
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


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_print_or_subprocess_in_library_code(path):
    tree = ast.parse(path.read_text())
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "print" not in calls and "subprocess" not in imports
