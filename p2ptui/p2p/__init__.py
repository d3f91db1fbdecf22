"""What Linux's PCI P2PDMA code decides for a fabric: verdicts, kernel profiles, the all-pairs matrix, provider
search, the ACS fix and the expert gate. Textual-free: the CLI and the TUI both build on it. A new kernel rule goes
in profiles.py (see its docstring); a what-if is a profile with other host facts (profile_for's overrides)."""

from .fix import AcsFix, acs_fix
from .gate import (
    Decision,
    ExpertMode,
    GateDecision,
    Reason,
    gate_acs_whatif,
    gate_pool,
    gate_transfer,
    gate_write,
)
from .matrix import MAP_TYPES, PairMatrix, pair_matrix
from .messages import NonPciClient
from .outcomes import Condition, Outcome, Unknown
from .profiles import Era, Fact, KernelProfile, profile_for
from .providers import ProviderSearch, find_provider
from .topo import TopoClass
from .verdict import ClientVerdict, Hop, HopRole, MapType, Verdict, check

__all__ = [
    "AcsFix",
    "ClientVerdict",
    "Condition",
    "Decision",
    "Era",
    "ExpertMode",
    "Fact",
    "GateDecision",
    "Hop",
    "HopRole",
    "KernelProfile",
    "MAP_TYPES",
    "MapType",
    "NonPciClient",
    "Outcome",
    "PairMatrix",
    "ProviderSearch",
    "Reason",
    "TopoClass",
    "Unknown",
    "Verdict",
    "acs_fix",
    "check",
    "find_provider",
    "gate_acs_whatif",
    "gate_pool",
    "gate_transfer",
    "gate_write",
    "pair_matrix",
    "profile_for",
]
