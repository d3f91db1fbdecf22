"""Machine-readable forms of verdicts, matrices and provider searches (the --json contract documented in the README)."""

from __future__ import annotations

import io

from ..fabric.model import Device
from .fix import AcsFix
from .gate import GateDecision
from .matrix import PairMatrix
from .outcomes import Outcome
from .profiles import KernelProfile
from .providers import ProviderSearch
from .verdict import ClientVerdict, Verdict


def _bdfs(devices: list[Device]) -> list[str]:
    return [str(d.bdf) for d in devices]


def profile_json(profile: KernelProfile) -> dict:
    return {
        "kernel": profile.kernel,
        "rules": f"{profile.release[0]}.{profile.release[1]}",
        "era": f"v{profile.era.value // 100}.{profile.era.value % 100}",
        "cpu_vendor": profile.cpu_vendor,
        "cpu_family": profile.cpu_family,
        "arch": profile.arch,
        "iommu": profile.iommu.value,
        "cmdline": profile.cmdline,
        "cpu_allows_p2p": profile.cpu_allows_p2p,
        "representative_rule": profile.representative_rule.value,
        "acs_cmdline_handling": profile.acs.handling.value,
        "whitelist": [
            {"id": e.ids, "req_same_host_bridge": e.req_same_host_bridge, "label": e.label, "confirmed": e.confirmed}
            for e in profile.whitelist
        ],
        "notes": list(profile.notes),
        "unknown": sorted(f.value for f in profile.unknown),
        "p2pdma": profile.has_p2pdma,
    }


def client_json(cv: ClientVerdict) -> dict:
    return {
        "bdf": str(cv.client.bdf) if cv.client is not None else None,
        "name": cv.client.name if cv.client is not None else (cv.foreign.name if cv.foreign else None),
        "map_type": cv.map_type.value,
        "distance": cv.distance,
        "path": _bdfs(cv.path),
        "common": str(cv.common.bdf) if cv.common is not None else None,
        "acs_redirect": _bdfs(cv.acs_redirect),
        "acs_ignored": _bdfs(cv.acs_ignored),
        "acs_unknown": _bdfs(cv.acs_unknown),
        "provider_chain": _bdfs(cv.provider_chain),
        "client_chain": _bdfs(cv.client_chain),
        "evaluated": cv.evaluated,
        "messages": list(cv.messages),
        "topo": cv.topo.value if cv.topo is not None else None,
        "hops": [
            {
                "bdf": str(h.device.bdf),
                "name": h.device.name,
                "role": h.role.value,
                "acs_ctrl": h.acs_ctrl,
                "acs_unknown": h.unknown,
                "redirects": h.redirects,
                "ignored": h.ignored,
                "assumed": h.assumed,
            }
            for h in cv.hops
        ],
    }


def verdict_json(verdict: Verdict, fix: AcsFix | None, gate: dict[str, GateDecision | None], expert: bool) -> dict:
    return {
        "provider": str(verdict.provider.bdf),
        "provider_name": verdict.provider.name,
        "clients": [client_json(cv) for cv in verdict.clients],
        "distance": verdict.distance,
        "supported": verdict.supported,
        "certain": verdict.certain,
        "p2pdma": not verdict.p2pdma_absent,
        "depends_on": [u.to_json() for u in verdict.depends_on],
        "outcomes": [outcome_json(o) for o in verdict.outcomes],
        "messages": list(verdict.messages),
        "disable_acs_redir": verdict.disable_acs_redir,
        "fix": fix_json(fix),
        "gate": {"expert": expert, **{k: (g.to_json() if g is not None else None) for k, g in gate.items()}},
        "boot_messages": list(verdict.boot_messages),
        "notes": list(verdict.notes),
        "profile": profile_json(verdict.profile) if verdict.profile is not None else None,
    }


def outcome_json(o: Outcome) -> dict:
    v = o.verdict
    return {
        "when": o.when_json(),
        "when_text": o.when,
        "distance": v.distance,
        "supported": v.supported,
        "clients": [
            {"bdf": str(cv.client.bdf) if cv.client else None, "map_type": cv.map_type.value, "distance": cv.distance}
            for cv in v.clients
        ],
        "messages": list(v.messages),
        "disable_acs_redir": v.disable_acs_redir,
    }


def fix_json(fix: AcsFix | None) -> dict | None:
    if fix is None:
        return None
    return {
        "option": fix.option,
        "cmdline": fix.cmdline,
        "devices": _bdfs(fix.devices),
        "works": fix.works,
        "after": {"distance": fix.after.distance, "map_types": [cv.map_type.value for cv in fix.after.clients]},
        "cost": fix.cost,
        "notes": list(fix.notes),
    }


def matrix_json(m: PairMatrix) -> dict:
    return {
        "devices": _bdfs(m.rows),
        "names": [d.name for d in m.rows],
        "map_type": m.map_names(),
        "distance": m.distance.tolist(),
        "topo": m.topo_names(),
        "certain": m.certain.tolist() if m.certain is not None else True,
        "outcomes": [
            {"row": i, "col": j, "outcomes": [{"map_type": t.value, "distance": d} for t, d in m.outcomes_at(i, j)]}
            for i, j in m.uncertain_cells()
        ],
        "profile": profile_json(m.profile),
    }


def search_json(search: ProviderSearch) -> dict:
    clients = []
    for c in search.clients:
        clients.append(str(c.bdf) if isinstance(c, Device) else (None if c is None else getattr(c, "name", str(c))))
    return {
        "clients": clients,
        "candidates": [
            {
                "bdf": str(c.provider.bdf),
                "name": c.provider.name,
                "distance": c.distance,
                "certain": c.certain,
                "outcomes": list(c.outcomes),
            }
            for c in search.candidates
        ],
        "distance": search.distance,
        "ties": _bdfs(search.ties),
        "chosen": str(search.chosen.bdf) if search.chosen is not None else None,
        "seed": search.seed,
        "messages": list(search.messages),
    }


def matrix_csv(m: PairMatrix) -> str:
    """``p2ptui matrix --csv`` as one string (the TUI's matrix export); the command streams the same writer."""
    from .matrix_stream import write_matrix_csv  # matrix_stream reads this module's JSON field names

    out = io.StringIO()
    write_matrix_csv(m, out)
    return out.getvalue()
