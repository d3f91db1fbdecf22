"""Copy plans: several transfers (each with its own start time), device rates, model knobs and injected faults,
read from YAML with every problem reported as file:line:column (format in docs/copy.md).

Plans are read like fabric files (p2ptui/formats/yaml_text.py): size-limited, binary and non-UTF-8 input refused
with a position, nesting bounded, syntax errors explained. Values are checked against the bounds of limits.py, the
same the copy CLI applies to its flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..errors import Diagnostic, InputError, Location
from ..fabric.model import Fabric
from ..fabric.units import parse_size
from ..formats.yaml_nodes import Node, NodeReader, is_null
from ..formats.yaml_text import compose, decode, read_limited, too_big
from .backends import SIM
from .limits import IOMMU_PAGE_HINT, iommu_page_problem, parse_number, parse_rate, seconds_problem
from .resources import DeviceRate, RcCap, SimConfig
from .transfer import DEFAULT_CHUNK, HOST, Op, TransferSpec

FORMAT_TAG = "p2ptui-plan/1"
# The section that tunes the model (SimConfig) is named after the simulator, whose model it is: users write "sim:".
SIM_SECTION = SIM
TOP_KEYS = ("format", "description", SIM_SECTION, "devices", "transfers", "events")
SIM_KEYS = (
    "efficiency",
    "completion_size",
    "read_tags",
    "read_rtt_us",
    "iommu_page_size",
    "iotlb_entries",
    "memory_bandwidth",
    "root_complexes",
)
RATE_KEYS = ("read", "write")
TRANSFER_KEYS = (
    "name",
    "src",
    "dst",
    "via",
    "size",
    "chunk",
    "threads",
    "serial",
    "start",
    "op",
    "src_file",
    "dst_file",
    "check",
    "seed",
    "dma_size",
    "window",
)
EVENT_KEYS = ("at", "unplug", "unpublish")
OPS = {"write": Op.WRITE, "read": Op.READ}
MAX_PLAN_BYTES = 4 << 20  # ~40,000 transfers; a bigger file is not a plan someone wrote
MAX_COMPLETION = 4096  # PCIe's largest payload: no completion carries more


@dataclass(frozen=True)
class PlanEvent:
    at: float
    kind: str  # "unplug" or "unpublish"
    device: str


@dataclass(frozen=True)
class Plan:
    transfers: list[TransferSpec]
    config: SimConfig
    events: list[PlanEvent] = field(default_factory=list)
    description: str = ""
    locations: list[Location] = field(default_factory=list)  # where each transfer was written


def load_plan(path: str | Path, fabric: Fabric, base: SimConfig | None = None) -> Plan:
    name = str(path)
    data = read_limited(path, "plan", MAX_PLAN_BYTES)
    if len(data) > MAX_PLAN_BYTES:  # a pipe or a device: read_limited stops one byte past the limit
        raise InputError(too_big(None, name, "plan", MAX_PLAN_BYTES))
    return loads_plan(decode(data, name, "plan"), fabric, name, base)


def loads_plan(text: str, fabric: Fabric, filename: str = "<plan>", base: SimConfig | None = None) -> Plan:
    if len(text) > MAX_PLAN_BYTES:
        raise InputError(too_big(None, filename, "plan", MAX_PLAN_BYTES))
    root = compose(decode(text, filename, "plan"), filename)
    if root is None:
        raise InputError(
            Diagnostic(
                "plan is empty: it needs a list of transfers",
                Location(filename, 1, 1),
                "write transfers: followed by a list, e.g. transfers: [{src: nvme0, dst: nvme1, size: 1GiB}]",
            )
        )
    reader = NodeReader(filename)
    if not isinstance(root, yaml.MappingNode):
        what = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        reader.error(
            root,
            f"a plan is a mapping with transfers: (and optionally format, description, sim, devices, "
            f"events), not {what}",
            "put the list under a key: transfers: [{src: nvme0, dst: nvme1, size: 1GiB}]",
        )
        raise InputError(reader.diagnostics)
    plan = _PlanReader(reader, fabric, base or SimConfig()).read(root)
    if reader.diagnostics:
        raise InputError(reader.diagnostics)
    return plan


class _PlanReader:
    def __init__(self, reader: NodeReader, fabric: Fabric, base: SimConfig):
        self.r = reader
        self.fabric = fabric
        self.base = base

    def read(self, root: Node) -> Plan:
        r = self.r
        top = r.mapping(root, "the plan", TOP_KEYS) or {}
        r.check_format(top, FORMAT_TAG, "plan format")
        description = ""
        if "description" in top and not is_null(top["description"][1]):
            description = (r.text(top["description"][1], "description") or "").strip()
        config = self._sim(top[SIM_SECTION][1]) if SIM_SECTION in top else self.base
        if "devices" in top:
            rates = {**config.device_rates, **self._devices(top["devices"][1])}
            config = self._config(top["devices"][1], config, device_rates=rates)
        transfers, locations = [], []
        if "transfers" not in top:
            r.error(root, "missing key 'transfers'", "a plan lists the transfers to run")
        else:
            for item in r.sequence(top["transfers"][1], "transfers") or []:
                spec = self._transfer(item)
                if spec is not None:
                    transfers.append(spec)
                    locations.append(r.location(item))
            if not transfers and not r.diagnostics:
                r.error(top["transfers"][1], "the plan has no transfers")
        events = []
        if "events" in top:
            for item in r.sequence(top["events"][1], "events") or []:
                event = self._event(item)
                if event is not None:
                    events.append(event)
        return Plan(transfers, config, events, description, locations)

    # -- sections -----------------------------------------------------------------------------------------------
    def _sim(self, node: Node) -> SimConfig:
        r = self.r
        keys = r.mapping(node, SIM_SECTION, SIM_KEYS) or {}
        values: dict = {}
        if "efficiency" in keys:
            value = r.parsed(keys["efficiency"][1], "efficiency", parse_number)
            if value is not None and not 0 < value <= 1:
                r.error(keys["efficiency"][1], f"efficiency {value:g} must be in (0, 1]", "0.90 is the default")
            elif value is not None:
                values["efficiency"] = value
        if "completion_size" in keys:
            value = r.parsed(keys["completion_size"][1], "completion size", parse_size)
            if value is not None and not 1 <= value <= MAX_COMPLETION:
                r.error(
                    keys["completion_size"][1],
                    f"completion size must be from 1 to {MAX_COMPLETION} B, not {value}",
                    "PCIe completions carry 64 to 4096 B; 64 is the RCB split",
                )
            else:
                values["completion_size"] = value
        if "iommu_page_size" in keys:
            value = r.parsed(keys["iommu_page_size"][1], "IOMMU page size", parse_size)
            problem = iommu_page_problem(value) if value is not None else None
            if problem is not None:
                r.error(keys["iommu_page_size"][1], problem, IOMMU_PAGE_HINT)
            else:
                values["iommu_page_size"] = value
        for key in ("read_tags", "iotlb_entries"):
            if key in keys:
                values[key] = r.integer(keys[key][1], key.replace("_", " "), 1, 1 << 20)
        if "read_rtt_us" in keys:
            value = r.parsed(keys["read_rtt_us"][1], "read round trip (µs)", parse_number)
            if value is not None and value <= 0:
                r.error(keys["read_rtt_us"][1], f"read round trip must be a positive number of µs, not {value:g}")
            else:
                values["read_rtt_us"] = value
        if "memory_bandwidth" in keys:
            values["memory_bandwidth"] = self._rate(keys["memory_bandwidth"][1], "memory bandwidth")
        if "root_complexes" in keys:
            values["rc_caps"] = self._rc_caps(keys["root_complexes"][1])
        return self._config(node, self.base, **{k: v for k, v in values.items() if v is not None})

    def _config(self, node: Node, config: SimConfig, **changes) -> SimConfig:
        try:
            return replace(config, **changes)
        except ValueError as exc:  # a combination the fields' own checks cannot see
            self.r.error(node, str(exc))
            return config

    def _rc_caps(self, node: Node) -> dict[str, RcCap]:
        r = self.r
        bridges = {rb.host_bridge for rb in self.fabric.root_buses}
        out = {}
        for name, (_key_node, value_node) in (r.mapping(node, "root_complexes", bridges) or {}).items():
            caps = r.mapping(value_node, f"root complex {name}", RATE_KEYS) or {}
            out[name] = RcCap(**{k: self._rate(caps[k][1], f"{name} P2P {k} cap") for k in RATE_KEYS if k in caps})
        return out

    def _devices(self, node: Node) -> dict[str, DeviceRate]:
        r = self.r
        keys = r.mapping(
            node, "devices", [d.name for d in self.fabric.devices] + [str(d.bdf) for d in self.fabric.devices]
        )
        out = {}
        for ref, (_, value_node) in (keys or {}).items():
            name = self.fabric.find(ref).name
            rates = r.mapping(value_node, f"device {ref}", RATE_KEYS) or {}
            out[name] = DeviceRate(**{k: self._rate(rates[k][1], f"{ref} {k} rate") for k in RATE_KEYS if k in rates})
        return out

    def _transfer(self, node: Node) -> TransferSpec | None:
        r = self.r
        before = len(r.diagnostics)
        keys = r.mapping(node, "a transfer", TRANSFER_KEYS)
        if keys is None:
            return None
        v: dict = {}
        for key in ("src", "dst"):
            if key not in keys:
                r.error(node, f"transfer without '{key}'", "name a device of the fabric, or 'host'")
            else:
                v[key] = self._endpoint(keys[key][1], key, allow_host=True)
        if "via" in keys and not is_null(keys["via"][1]):
            v["via"] = self._endpoint(keys["via"][1], "via", allow_host=False)
        if "size" not in keys:
            r.error(node, "transfer without 'size'", "write e.g. size: 1GiB")
        # Only parsed here: whether a value is within bounds is TransferSpec.problems' to say, as for the CLI.
        for key in ("size", "chunk", "dma_size", "window"):
            if key in keys:
                v[key] = r.parsed(keys[key][1], key.replace("_", " "), parse_size)
        v.setdefault("chunk", DEFAULT_CHUNK)
        if "threads" in keys:
            v["threads"] = r.integer(keys["threads"][1], "threads")
        if "start" in keys:
            v["start"] = r.parsed(keys["start"][1], "start (seconds)", parse_number)
        if "op" in keys:
            v["op"] = r.choice(keys["op"][1], "op", OPS)
        for key in ("name", "src_file", "dst_file"):
            if key in keys and not is_null(keys[key][1]):
                v[key] = r.text(keys[key][1], key)
        for key in ("check", "serial"):
            if key in keys:
                v[key] = r.boolean(keys[key][1], key)
        if "seed" in keys:
            v["seed"] = r.integer(keys["seed"][1], "seed", 0, (1 << 128) - 1)
        if len(r.diagnostics) > before:
            return None
        spec = TransferSpec(**{k: x for k, x in v.items() if x is not None})
        for problem in spec.field_problems():
            r.error(keys[problem.field][1] if problem.field in keys else node, problem.message)
        return spec if len(r.diagnostics) == before else None

    def _event(self, node: Node) -> PlanEvent | None:
        r = self.r
        keys = r.mapping(node, "an event", EVENT_KEYS)
        if keys is None:
            return None
        kinds = [k for k in ("unplug", "unpublish") if k in keys]
        if len(kinds) != 1:
            r.error(
                node, "an event needs exactly one of 'unplug' or 'unpublish'", "write e.g. {at: 1.0, unplug: nvme2}"
            )
            return None
        at = r.parsed(keys["at"][1], "at (seconds)", parse_number) if "at" in keys else 0.0
        problem = seconds_problem(at, "event") if at is not None else None
        if problem is not None:
            r.error(keys["at"][1], problem)
            return None
        device = self._endpoint(keys[kinds[0]][1], kinds[0], allow_host=False)
        if at is None or device is None:
            return None
        return PlanEvent(at, kinds[0], device)

    # -- values -------------------------------------------------------------------------------------------------
    def _endpoint(self, node: Node, what: str, allow_host: bool) -> str | None:
        ref = self.r.text(node, what)
        if ref is None:
            return None
        try:
            return self.fabric.find(ref).name
        except KeyError:
            if allow_host and ref == HOST:
                return HOST
            hint = "or 'host' for host memory" if allow_host else "(p2ptui show FABRIC lists them)"
            self.r.error(node, f"{what}: no device {ref!r} in fabric {self.fabric.name!r}", f"name a device {hint}")
            return None

    def _rate(self, node: Node, what: str) -> float | None:
        """A positive rate in GB/s within limits.py's bounds (the CLI's --device-rate takes the same)."""
        raw = self.r.text(node, what)
        if raw is None:
            return None
        try:
            return parse_rate(raw)
        except ValueError as exc:
            message, sep, expected = str(exc).partition(": expected ")
            joiner = " " if message.startswith("must") else ": "
            self.r.error(node, f"{what}{joiner}{message}", f"expected {expected}" if sep else "")
            return None
