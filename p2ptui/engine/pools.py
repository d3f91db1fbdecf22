"""Who holds how much of each provider's P2P memory, and which providers are still there to hold it.

A staged copy maps two chunks per thread of its provider's pool while it runs (or one, p2pmem-test's mmap of the
``allocate`` file, for --serial or where the pool has no room for two): ``available`` shrinks and grows back when
the copy ends, however it ends. The simulator and the real engine take it the same way (``take_staging``).
"""

from __future__ import annotations

from ..fabric.model import Device, Fabric
from ..fabric.units import human_size
from .transfer import PIPELINE_DEPTH, TransferSpec

# Why a copy has one slot per thread when its spec says serial (--serial, a plan's serial:, the TUI form's box).
SERIAL_ASKED = "serial, as asked"


class PoolError(RuntimeError):
    """A staged copy cannot get its buffers; the message says why in the user's terms."""


class PoolLedger:
    def __init__(self, fabric: Fabric):
        self._available: dict[str, int] = {}
        self._published: dict[str, bool] = {}
        self._size: dict[str, int] = {}
        for dev in fabric.devices:
            if dev.pool is not None:
                self._available[dev.name] = dev.pool.available
                self._published[dev.name] = dev.pool.published
                self._size[dev.name] = dev.pool.size
        self._gone: set[str] = set()
        self._withdrawn: set[str] = set()  # unpublished while the run went on (the start state is the gate's business)
        self._held: dict[int, tuple[str, int]] = {}  # transfer id -> (provider, bytes)

    def available(self, provider: str) -> int:
        return self._available.get(provider, 0)

    def published(self, provider: str) -> bool:
        return self._published.get(provider, False) and provider not in self._gone

    def gone(self, name: str) -> bool:
        return name in self._gone

    def take(self, transfer_id: int, provider: Device, nbytes: int, what: str = "") -> None:
        name = provider.name
        if name in self._gone:
            raise PoolError(f"provider {name} is gone (hot-unplugged): no P2P memory to stage {what} in")
        if name not in self._available:
            raise PoolError(f"provider {name} has no P2P memory pool")
        if name in self._withdrawn:
            raise PoolError(f"provider {name}'s P2P memory was unpublished during the run: it cannot stage {what}")
        free = self._available[name]
        if nbytes > free:
            raise PoolError(
                f"provider {name}'s P2P pool has {human_size(free)} available of {human_size(self._size[name])}; "
                f"{what} needs {human_size(nbytes)} (chunk × threads): use a smaller chunk or fewer threads"
            )
        self._available[name] = free - nbytes
        self._held[transfer_id] = (name, nbytes)

    def take_staging(self, transfer_id: int, provider: Device, spec: TransferSpec) -> str | None:
        """Hold ``spec``'s staging buffer in ``provider``'s pool: ``spec.staging_depth`` chunks per thread of what
        is available (PoolError when not even one fits). None when it holds PIPELINE_DEPTH; else why one."""
        free = self.available(provider.name)
        depth = spec.staging_depth(free)
        self.take(transfer_id, provider, depth * spec.buffer_bytes, f"transfer {spec.label}")
        if depth == PIPELINE_DEPTH:
            return None
        if spec.serial:
            return SERIAL_ASKED
        return (
            f"its pool had {human_size(free)} available, not the {human_size(PIPELINE_DEPTH * spec.buffer_bytes)} "
            "that lets a thread read the next chunk while it writes the last"
        )

    def release(self, transfer_id: int) -> None:
        held = self._held.pop(transfer_id, None)
        if held is not None:
            name, nbytes = held
            self._available[name] += nbytes

    def holders(self, provider: str) -> list[int]:
        return [tid for tid, (name, _) in self._held.items() if name == provider]

    def unpublish(self, provider: str) -> None:
        if provider in self._published:
            self._published[provider] = False
            self._withdrawn.add(provider)

    def unplug(self, name: str) -> None:
        self._gone.add(name)


def one_slot(why: str) -> str:
    """How a staged copy with one buffer slot per thread runs, and why it has only one."""
    return f"one chunk per thread ({why}): each thread reads a chunk, then writes it"
