"""The suite's own rules, read from its source: support modules instead of test-to-test imports, one definition per
fixture name, public seams instead of private attributes, and every test checks something."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FILES = sorted(p for p in TESTS.rglob("*.py") if "__snapshots__" not in p.parts)
TREES = {p: ast.parse(p.read_text(), str(p)) for p in FILES}
# What makes a test check something: a plain assert, pytest.raises/warns/fail, or a snapshot comparison.
CHECKING_NAMES = {"raises", "warns", "fail", "snap_compare", "snapshot"}
# The one reach into Textual's internals: Textual exports a screen only as SVG, and screen_text mirrors
# App.export_screenshot with a text export instead.
PRIVATE_ALLOWED = {("tui/tui_helpers.py", "screen_text")}


def rel(path: Path) -> str:
    return path.relative_to(TESTS).as_posix()


def is_test_module(path: Path) -> bool:
    return path.name.startswith("test_")


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def is_fixture(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in func.decorator_list)


def test_no_test_module_imports_another():
    found = []
    for path, tree in TREES.items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{rel(path)}:{node.lineno} imports {n}" for n in names if n.split(".")[-1].startswith("test_")]
    assert found == [], "shared helpers belong in support modules or conftest.py:\n" + "\n".join(found)


def test_each_fixture_name_is_defined_once():
    where = defaultdict(list)
    for path, tree in TREES.items():
        for func in functions(tree):
            if is_fixture(func):
                where[func.name].append(f"{rel(path)}:{func.lineno}")
    twice = {name: places for name, places in where.items() if len(places) > 1}
    assert twice == {}, "share one fixture in a conftest.py, or name each for what it holds"


def test_no_test_reads_private_attributes():
    found = []
    for path, tree in TREES.items():
        for func in functions(tree):
            if (rel(path), func.name) in PRIVATE_ALLOWED:
                continue
            for node in ast.walk(func):
                # A class written for a test (a fake backend, a file reader) may use its own private parts.
                if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                    if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                        found.append(f"{rel(path)}:{node.lineno} {ast.unparse(node)}")
    assert found == [], "assert through public seams:\n" + "\n".join(sorted(set(found)))


def _checks_directly(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assert):
            return True
        if isinstance(sub, ast.Name) and sub.id in CHECKING_NAMES:
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in CHECKING_NAMES:
            return True
    return False


Helper = tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]


def _namespaces() -> dict[Path, dict[str, Helper]]:
    """Per module, the functions a bare name in it calls: its own top-level ones and those it imports by name from
    a support module of the suite."""
    support = {p.stem: p for p in TREES if not is_test_module(p)}
    own = {
        path: {n.name: (path, n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for path, tree in TREES.items()
    }
    spaces = {}
    for path, tree in TREES.items():
        space = dict(own[path])
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module in support:
                for alias in node.names:
                    found = own[support[node.module]].get(alias.name)
                    if found is not None:
                        space[alias.asname or alias.name] = found
        spaces[path] = space
    return spaces


def _checks(path: Path, node: ast.AST, spaces: dict[Path, dict[str, Helper]], seen: set[int]) -> bool:
    """True when ``node`` checks something itself or calls a helper that does, followed through helpers."""
    if _checks_directly(node):
        return True
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in spaces[path]:
            where, helper = spaces[path][sub.func.id]
            if id(helper) not in seen:
                seen.add(id(helper))
                if _checks(where, helper, spaces, seen):
                    return True
    return False


def test_every_test_checks_something():
    spaces = _namespaces()
    silent = [
        f"{rel(path)}:{func.lineno} {func.name}"
        for path, tree in TREES.items()
        if is_test_module(path)
        for func in tree.body
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
        and func.name.startswith("test")
        and not _checks(path, func, spaces, set())
    ]
    assert silent == [], "tests that cannot fail on a wrong answer:\n" + "\n".join(silent)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("def test_x():\n    run()\n", test_every_test_checks_something),
        ("def look():\n    return 1\ndef test_x():\n    look()\n", test_every_test_checks_something),
        ("import pytest\n@pytest.fixture\ndef fabric():\n    pass\n", test_each_fixture_name_is_defined_once),
        ("def test_y(app):\n    assert app._notifications\n", test_no_test_reads_private_attributes),
        ("from test_lspci_vvv import DUMP\n", test_no_test_module_imports_another),
    ],
    ids=["silent-test", "silent-helper", "fixture-twice", "private-read", "test-import"],
)
def test_each_rule_catches_a_breach(source, rule, monkeypatch):
    """The rules can fail: each sees a module written to break it (beside the real tree)."""
    trees = {**TREES, TESTS / "p2p" / "test_planted_breach.py": ast.parse(source)}
    monkeypatch.setattr(sys.modules[__name__], "TREES", trees)
    with pytest.raises(AssertionError):
        rule()
