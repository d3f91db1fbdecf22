"""What a transfer is (TransferSpec), where it stands (TransferState) and what it reports (TransferResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from . import limits
from .limits import Problem

if TYPE_CHECKING:
    from .routes import Route

HOST = "host"  # the endpoint name for host memory (used when no device of the fabric has that name)
DEFAULT_CHUNK = 1 << 20


class Op(StrEnum):
    """Who drives a direct DMA: WRITE = the data's source pushes posted writes; READ = the destination pulls with
    non-posted reads (completions carry the data)."""

    WRITE = "write"
    READ = "read"


class TransferState(StrEnum):
    PENDING = "pending"  # accepted, waiting for its start time
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # ended by an error (provider gone, I/O error, verification mismatch)
    CANCELLED = "cancelled"
    REFUSED = "refused"  # never started: pool too small, safety rule, no route

    @property
    def finished(self) -> bool:
        return self not in (TransferState.PENDING, TransferState.RUNNING)


# Buffer slots per thread of a staged copy. With two a thread reads the next chunk while the last is written (the
# real engine's file copy, and so the simulator's model of it); with one it reads a chunk, then writes it
# (p2pmem-test's loop: --serial, or a provider pool without room for two).
PIPELINE_DEPTH = 2


@dataclass(frozen=True, slots=True)
class TransferSpec:
    """One copy. ``via`` names the provider whose P2P memory stages the data (src → provider memory → dst, as
    nvmet and p2pmem-test do); without it the copy is one direct DMA between src and dst. ``src``/``dst`` are
    device names or addresses in the fabric, or ``host`` for host memory."""

    src: str
    dst: str
    size: int
    via: str | None = None
    chunk: int = DEFAULT_CHUNK
    threads: int = 1  # threads (queue depth); a staged copy's two legs overlap from 2 on
    start: float = 0.0  # seconds after the run starts
    op: Op = Op.WRITE  # direct DMA between two devices only
    name: str = ""
    src_file: str | None = None  # real engine: copy these files (else memory to memory)
    dst_file: str | None = None
    check: bool = False  # real engine: write seeded random data first, verify the destination's digest after
    seed: int = 0
    dma_size: int | None = None  # simulator: bytes per DMA; None = chunk-sized sequential DMAs (the copy engine)
    window: int | None = None  # simulator: DMAs scattered over this many bytes (IOMMU cost); None = sequential
    serial: bool = False  # one buffer slot per thread: read a chunk, then write it (p2pmem-test's loop)

    def problems(self) -> list[str]:
        """Why this spec cannot run on any engine, in words (the bounds of limits.py); empty when it can."""
        return [p.message for p in self.field_problems()]

    def field_problems(self) -> list[Problem]:
        """The same, each with the field it is about, so a caller can point at the flag or the plan key."""
        return spec_problems(self)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        middle = f" → {self.via}" if self.via else ""
        return f"{self.src}{middle} → {self.dst}"

    @property
    def buffer_bytes(self) -> int:
        """The least buffer a staged copy runs with: one chunk per thread, as p2pmem-test maps it
        (``staging_depth`` says how many chunks per thread it takes)."""
        return self.chunk * self.threads

    def staging_depth(self, available: int | None = None) -> int:
        """Buffer slots per thread: one for --serial, or where ``available`` bytes (a provider pool's free space)
        cannot hold PIPELINE_DEPTH per thread; else PIPELINE_DEPTH."""
        if self.serial or (available is not None and available < PIPELINE_DEPTH * self.buffer_bytes):
            return 1
        return PIPELINE_DEPTH


@dataclass(slots=True)
class TransferResult:
    """Everything known about one transfer, updated as it runs and final once ``state.finished``."""

    id: int
    spec: TransferSpec
    state: TransferState = TransferState.PENDING
    route: Route | None = None  # the path the bytes take (P2P, or the bounce)
    p2p_route: Route | None = None  # the P2P path, even when not taken (NOT_SUPPORTED)
    bounce_route: Route | None = None
    p2p_bytes_per_s: float | None = None  # predicted, alone on the fabric
    bounce_bytes_per_s: float | None = None
    bytes_done: int = 0
    started_at: float | None = None  # engine clock, seconds
    ended_at: float | None = None
    verified: bool | None = None  # None: not checked
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # defaults assumed, fallbacks taken, labels (forced path)
    engine: str = ""  # the name of the backend that ran it (backends.py)

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    @property
    def bytes_per_s(self) -> float | None:
        seconds = self.seconds
        if not seconds or self.state is not TransferState.DONE:
            return None
        return self.bytes_done / seconds

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def spec_problems(spec: TransferSpec) -> list[Problem]:
    """Every reason ``spec`` cannot run on any engine; empty when it can (the bounds are limits.py's)."""
    out: list[Problem] = []
    if spec.size <= 0:
        out.append(Problem("size", f"size must be positive, not {spec.size}"))
    elif spec.size > limits.MAX_SIZE:
        out.append(
            Problem(
                "size",
                f"size {limits.bytes_text(spec.size)} is more than 1 PiB, beyond any device or memory a "
                "copy could read or fill",
            )
        )
    if spec.chunk <= 0:
        out.append(Problem("chunk", f"chunk must be positive, not {spec.chunk}"))
    elif spec.chunk > limits.MAX_CHUNK:
        out.append(
            Problem(
                "chunk",
                f"chunk {limits.bytes_text(spec.chunk)} is more than 1 GiB: a chunk is one DMA buffer per "
                "thread, and no P2P pool or staging buffer is that large",
            )
        )
    if spec.threads < 1:
        out.append(Problem("threads", f"threads must be at least 1, not {spec.threads}"))
    elif spec.threads > limits.MAX_THREADS:
        out.append(
            Problem(
                "threads",
                f"threads must be at most {limits.MAX_THREADS}, not {spec.threads} (each is a real "
                "thread in the real engine)",
            )
        )
    problem = limits.seconds_problem(spec.start, "start")
    if problem is not None:
        out.append(Problem("start", problem))
    for name, value in (("dma_size", spec.dma_size), ("window", spec.window)):
        what = name.replace("_", " ")
        if value is not None and value <= 0:
            out.append(Problem(name, f"{what} must be positive, not {value}"))
        elif value is not None and value > limits.MAX_SIZE:
            out.append(Problem(name, f"{what} {limits.bytes_text(value)} is more than 1 PiB"))
    if spec.via is not None and HOST in (spec.src, spec.dst):
        out.append(Problem("via", "a staged copy runs between two devices; copy to or from host memory without --via"))
    if spec.src == spec.dst == HOST:
        out.append(Problem("", "host memory to host memory crosses no fabric: name a device as src or dst"))
    return out
