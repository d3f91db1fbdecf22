"""Copy plans: several transfers (each with its own start time), device rates, model knobs and injected faults,
read from YAML with every problem reported as file:line:column (format in docs/copy.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..errors import Diagnostic, InputError, Location
from ..fabric.model import Fabric
from ..fabric.units import parse_bandwidth, parse_size
from ..fabric.yaml_nodes import Node, NodeReader, is_null
from .resources import DeviceRate, RcCap, SimConfig
from .transfer import DEFAULT_CHUNK, HOST, Op, TransferSpec

FORMAT_TAG = "p2ptui-plan/1"
TOP_KEYS = ("format", "description", "sim", "devices", "transfers", "events")
SIM_KEYS = ("efficiency", "completion_size", "read_tags", "read_rtt_us", "iommu_page_size", "iotlb_entries",
            "memory_bandwidth", "root_complexes")  # fmt: skip
RATE_KEYS = ("read", "write")
TRANSFER_KEYS = ("name", "src", "dst", "via", "size", "chunk", "threads", "start", "op", "src_file", "dst_file",
                 "check", "seed", "dma_size", "window")  # fmt: skip
EVENT_KEYS = ("at", "unplug", "unpublish")
OPS = {"write": Op.WRITE, "read": Op.READ}
MAX_PLAN_BYTES = 4 << 20


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
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read plan: {exc.strerror or exc}", Location(name))) from None
    if len(data) > MAX_PLAN_BYTES:
        raise InputError(Diagnostic(f"plan is {len(data)} bytes; plans are limited to 4 MiB", Location(name)))
    return loads_plan(data.decode("utf-8", "replace"), fabric, name, base)


def loads_plan(text: str, fabric: Fabric, filename: str = "<plan>", base: SimConfig | None = None) -> Plan:
    reader = NodeReader(filename)
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        raise InputError(Diagnostic(f"YAML syntax error: {exc.problem or exc.context}", where)) from None
    if root is None:
        raise InputError(Diagnostic("plan is empty: it needs a list of transfers", Location(filename, 1, 1)))
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
        if "format" in top:
            fmt = r.text(top["format"][1], "format")
            if fmt is not None and fmt != FORMAT_TAG:
                r.error(top["format"][1], f"unsupported plan format {fmt!r}", f"this version reads {FORMAT_TAG}")
        description = ""
        if "description" in top and not is_null(top["description"][1]):
            description = (r.text(top["description"][1], "description") or "").strip()
        config = self._sim(top["sim"][1]) if "sim" in top else self.base
        if "devices" in top:
            config = replace(config, device_rates={**config.device_rates, **self._devices(top["devices"][1])})
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
        keys = r.mapping(node, "sim", SIM_KEYS) or {}
        values: dict = {}
        if "efficiency" in keys:
            value = r.parsed(keys["efficiency"][1], "efficiency", float)
            if value is not None and not 0 < value <= 1:
                r.error(keys["efficiency"][1], f"efficiency {value} must be in (0, 1]", "0.90 is the default")
            elif value is not None:
                values["efficiency"] = value
        for key in ("completion_size", "iommu_page_size"):
            if key in keys:
                values[key] = self._positive(keys[key][1], key.replace("_", " "), parse_size)
        for key in ("read_tags", "iotlb_entries"):
            if key in keys:
                values[key] = r.integer(keys[key][1], key.replace("_", " "), 1, 1 << 20)
        if "read_rtt_us" in keys:
            values["read_rtt_us"] = self._positive(keys["read_rtt_us"][1], "read round trip (µs)", float)
        if "memory_bandwidth" in keys:
            values["memory_bandwidth"] = self._positive(keys["memory_bandwidth"][1], "memory bandwidth", parse_bandwidth)
        if "root_complexes" in keys:
            values["rc_caps"] = self._rc_caps(keys["root_complexes"][1])
        return replace(self.base, **{k: v for k, v in values.items() if v is not None})

    def _rc_caps(self, node: Node) -> dict[str, RcCap]:
        r = self.r
        bridges = {rb.host_bridge for rb in self.fabric.root_buses}
        out = {}
        for name, (key_node, value_node) in (r.mapping(node, "root_complexes", bridges) or {}).items():
            caps = r.mapping(value_node, f"root complex {name}", RATE_KEYS) or {}
            out[name] = RcCap(**{k: self._positive(caps[k][1], f"{name} P2P {k} cap", parse_bandwidth)
                                 for k in RATE_KEYS if k in caps})  # fmt: skip
        return out

    def _devices(self, node: Node) -> dict[str, DeviceRate]:
        r = self.r
        keys = r.mapping(node, "devices", [d.name for d in self.fabric.devices] + [str(d.bdf) for d in self.fabric.devices])
        out = {}
        for ref, (_, value_node) in (keys or {}).items():
            name = self.fabric.find(ref).name
            rates = r.mapping(value_node, f"device {ref}", RATE_KEYS) or {}
            out[name] = DeviceRate(**{k: self._positive(rates[k][1], f"{ref} {k} rate", parse_bandwidth)
                                      for k in RATE_KEYS if k in rates})  # fmt: skip
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
        else:
            v["size"] = self._positive(keys["size"][1], "size", parse_size)
        v["chunk"] = self._positive(keys["chunk"][1], "chunk", parse_size) if "chunk" in keys else DEFAULT_CHUNK
        if "threads" in keys:
            v["threads"] = r.integer(keys["threads"][1], "threads", 1, 1024)
        if "start" in keys:
            start = r.parsed(keys["start"][1], "start (seconds)", float)
            if start is not None and (start < 0 or not math.isfinite(start)):
                r.error(keys["start"][1], f"start {start} must be a non-negative number of seconds")
            else:
                v["start"] = start
        if "op" in keys:
            v["op"] = r.choice(keys["op"][1], "op", OPS)
        for key in ("name", "src_file", "dst_file"):
            if key in keys and not is_null(keys[key][1]):
                v[key] = r.text(keys[key][1], key)
        if "check" in keys:
            v["check"] = r.boolean(keys["check"][1], "check")
        if "seed" in keys:
            v["seed"] = r.integer(keys["seed"][1], "seed", 0)
        for key in ("dma_size", "window"):
            if key in keys:
                v[key] = self._positive(keys[key][1], key.replace("_", " "), parse_size)
        if len(r.diagnostics) > before:
            return None
        spec = TransferSpec(**{k: x for k, x in v.items() if x is not None})
        for problem in spec.problems():
            r.error(node, problem)
        return spec if len(r.diagnostics) == before else None

    def _event(self, node: Node) -> PlanEvent | None:
        r = self.r
        keys = r.mapping(node, "an event", EVENT_KEYS)
        if keys is None:
            return None
        kinds = [k for k in ("unplug", "unpublish") if k in keys]
        if len(kinds) != 1:
            r.error(node, "an event needs exactly one of 'unplug' or 'unpublish'", "write e.g. {at: 1.0, unplug: nvme2}")
            return None
        at = r.parsed(keys["at"][1], "at (seconds)", float) if "at" in keys else 0.0
        if at is not None and (at < 0 or not math.isfinite(at)):
            r.error(keys["at"][1], f"event time {at} must be a non-negative number of seconds")
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

    def _positive(self, node: Node, what: str, parse):
        value = self.r.parsed(node, what, parse)
        if value is not None and not value > 0:
            self.r.error(node, f"{what} must be positive, not {node.value}")
            return None
        return value
