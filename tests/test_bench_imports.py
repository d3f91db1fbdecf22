"""Every import a bench script makes still resolves.

The benches are not run by the suite (they take minutes), so a module moved in the package can leave one stopping
at an import nobody runs until the README's table is measured again (bench_matrix_scale did, after the formats
move). Reading their imports, nested ones included, costs nothing and catches that.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def _imports(script: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for each name a script imports from p2ptui; name None for ``import module``."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("p2ptui"):
            found.extend((node.lineno, node.module or "", alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, None) for alias in node.names if alias.name.startswith("p2ptui"))
    return found


def test_there_are_benches_to_check() -> None:
    assert len(SCRIPTS) >= 10
    assert sum(len(_imports(script)) for script in SCRIPTS) >= 20


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_imports_resolve(script: Path) -> None:
    missing = []
    for line, module, name in _imports(script):
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{script.name}:{line}: {module}: {exc}")
            continue
        if name is not None and not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")  # ``from package import submodule``
            except ImportError:
                missing.append(f"{script.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)


def test_a_moved_name_is_caught(tmp_path: Path) -> None:
    """The check fails on the import bench_matrix_scale had before it was fixed."""
    script = tmp_path / "bench_moved.py"
    script.write_text("def main():\n    from p2ptui.sources.writers import write_fabric\n", encoding="utf-8")
    assert _imports(script) == [(2, "p2ptui.sources.writers", "write_fabric")]
    with pytest.raises(AssertionError, match="bench_moved.py:2: p2ptui.sources.writers"):
        test_bench_imports_resolve(script)
