"""Suite-wide setup. Its presence also puts tests/ on sys.path, so test modules can import real_data."""

import pytest

from p2ptui.fabric import pciids


@pytest.fixture(autouse=True)
def _no_system_pci_ids(monkeypatch):
    """Names come from the machine's pci.ids only where a test asks for it: the same output with or without
    pciutils installed. Tests that want names point P2PTUI_PCI_IDS at tests/data/pci.ids."""
    monkeypatch.setenv(pciids.ENV_VAR, "")
    pciids.use_file(None)
    yield
    pciids.use_file(None)
