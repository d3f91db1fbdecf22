"""The core never imports Textual: the TUI is one client of it, like the CLI."""

import subprocess
import sys

import pytest

CORE_MODULES = [
    "p2ptui.fabric",
    "p2ptui.formats",
    "p2ptui.sources",
    "p2ptui.cli",
    "p2ptui.p2p",
    "p2ptui.engine",
    "p2ptui.fleet",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_not_import_textual(module):
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "for name in list(sys.modules):\n"
        "    if name.startswith('p2ptui.'):\n"
        "        importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad[:3]); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} pulls in Textual or fails to import: {result.stdout}{result.stderr}"


def test_every_core_package_module_is_textual_free():
    """Import every module outside p2ptui.tui, submodules included."""
    code = (
        "import importlib, pkgutil, sys, p2ptui\n"
        "for info in pkgutil.walk_packages(p2ptui.__path__, 'p2ptui.'):\n"
        "    if info.name.startswith('p2ptui.tui') or info.name == 'p2ptui.__main__':\n"
        "        continue\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad[:3]); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
