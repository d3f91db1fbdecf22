"""The real engine: moves and verifies real bytes on this machine, and reports the fabric's predicted routes.

A transfer with --src-file/--dst-file copies files (O_DIRECT, real_files.py) through P2P memory when the provider
has a usable ``p2pmem/allocate`` file, else through system memory; without files it copies memory to memory. The
route and the P2P-vs-bounce predictions come from the same planner as the simulator's, so both engines report
alike. A file copy writes a temporary file beside the destination and renames it into place only once complete
(and verified, with --check), so whatever happens - a failure, a cancel, a signal - an existing destination keeps
its contents or gets the whole new ones, and no partial file or mapping is left behind.

A memory → memory copy holds its source and destination in RAM at once: one that would not fit in MemAvailable
(with headroom, less what the memory copies running have yet to allocate) is refused before anything is allocated -
by ``plan``/``prepare`` as an InputError, and again when it starts (then as ``refused``): copies accepted together
but started at different times (a plan) are judged by what is running when each starts.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import numpy as np

from ..errors import Diagnostic, InputError
from ..fabric.model import Device, Fabric
from ..formats.safe_write import TemporaryOutput
from .backends import REAL
from .p2pmem import SYSFS_DEVICES, CopyBuffer, HostBuffer, MappingError, P2PMemBuffer, allocate_path
from .pools import SERIAL_ASKED, PoolError, PoolLedger, one_slot
from .real_files import CopyCancelled, CopyFailed, Progress, copy_file, file_digest, first_difference, write_random
from .real_inputs import FileCheck, check_chunk, check_file_copy, check_p2pmem_file, confirmed_devices
from .real_memory import available_memory, copy_memory, digest, make_source, memory_problem
from .real_paths import reason
from .resources import ResourceCatalog, SimConfig
from .routes import RouteKind, RoutePlan, RoutePlanner
from .transfer import TransferResult, TransferSpec, TransferState
from .verdicts import VerdictCache


class RealEngine:
    name = REAL

    def __init__(
        self,
        fabric: Fabric,
        config: SimConfig | None = None,
        *,
        expert: bool = False,
        yes: bool = False,
        p2pmem_files: Mapping[str, str] | None = None,
        sysfs_devices: Path = SYSFS_DEVICES,
        verdicts: VerdictCache | None = None,
        direct: bool = True,
        meminfo: Path | None = None,
        overwrite_devices: Collection[str] = (),
    ):
        self.fabric = fabric
        self.catalog = ResourceCatalog(fabric, config)
        self.planner = RoutePlanner(fabric, self.catalog, verdicts)
        self.pools = PoolLedger(fabric)
        self.expert, self.yes, self.direct = expert, yes, direct
        self.overwrite_devices = tuple(overwrite_devices)  # block devices the user named (--yes-overwrite)
        self.p2pmem_files = dict(p2pmem_files or {})
        self.sysfs_devices = sysfs_devices
        self.meminfo = meminfo  # None: /proc/meminfo (real_memory.MEMINFO)
        self.results: dict[int, TransferResult] = {}
        self._lock = threading.Lock()
        self._memory_jobs: dict[int, RealJob] = {}  # memory copies running (admitted under _lock)
        self._file_jobs: dict[int, RealJob] = {}  # file copies accepted: what they will write counts against free space

    def plan(self, spec: TransferSpec, expert: bool | None = None) -> RoutePlan:
        """The route plan ``prepare`` makes for ``spec``, with the expert gate's decision (``plan.gate``; None to or
        from host memory). ``expert`` defaults to the engine's. InputError for a copy refused before anything is
        touched: a bad spec, an unknown device, one file without the other, a chunk the copy cannot use, a memory
        copy RAM cannot hold, and for file copies every check of real_inputs.py - source, destination safety,
        free space, the P2P memory file."""
        expert = self.expert if expert is None else expert
        # Only file copies stage in P2P memory: the CPU never copies through a BAR (its pages are uncached MMIO).
        plan = self.planner.plan(spec, expert, real=True, uses_pool=spec.src_file is not None)
        if (spec.src_file is None) != (spec.dst_file is None):
            raise InputError(Diagnostic("give both --src-file and --dst-file, or neither (memory to memory)"))
        if spec.src_file is not None:
            self._check_files(spec, plan, expert)
        else:
            check_chunk(spec, files=False)
            problem = self.memory_problem(spec.size)
            if problem is not None:
                raise InputError(
                    Diagnostic(
                        problem,
                        hint="copy less, or copy files (--src-file/--dst-file): they "
                        "stream through chunk × threads bytes of buffer",
                    )
                )
        return plan

    def _check_files(
        self, spec: TransferSpec, plan: RoutePlan, expert: bool | None = None
    ) -> tuple[FileCheck, str | None, list[str]]:
        """The file checks, and the P2P memory file the copy will map (None: system memory) with notes on why."""
        expert = self.expert if expert is None else expert
        check = check_file_copy(
            spec,
            expert=expert,
            yes=self.yes,
            promised=self._disk_promised,
            confirmed=confirmed_devices(self.overwrite_devices),
        )
        provider = plan.provider
        if provider is None or plan.chosen.kind is not RouteKind.P2P:
            return check, None, []
        path = self.p2pmem_files.get(provider.name)
        if path is None:
            if provider.pool is not None and not provider.pool.allocate:
                note = f"{provider.name}'s pool has no allocate file (kernel < 6.2): staging in system memory"
                return check, None, [note]
            candidate = allocate_path(provider, self.sysfs_devices)
            if not candidate.exists():
                note = (
                    f"{candidate} is not on this machine: staging in system memory, as p2pmem-test does without "
                    "a p2pmem file"
                )
                return check, None, [note]
            path = str(candidate)
        check_p2pmem_file(path, spec, provider.name)
        return check, path, []

    def _disk_promised(self, dev: int) -> int:
        """Bytes the file copies accepted and not finished have yet to write to filesystem ``dev``."""
        return sum(job.disk_to_come(dev) for job in self._file_jobs.values())

    def memory_problem(self, size: int) -> str | None:
        """Why a memory copy of ``size`` bytes would not fit now, or None. The memory copies running count with the
        bytes they have yet to allocate (MemAvailable already shows what they hold)."""
        with self._lock:
            return self._memory_problem(size)

    def _memory_problem(self, size: int) -> str | None:
        promised = sum(job.memory_to_come() for job in self._memory_jobs.values())
        return memory_problem(size, available_memory(self.meminfo), promised)

    def _admit(self, job: RealJob) -> None:
        """Check and count a memory copy as running in one step, so two starting at once cannot both squeeze in."""
        with self._lock:
            problem = self._memory_problem(job.result.spec.size)
            if problem is not None:
                raise NotEnoughMemory(problem)
            self._memory_jobs[job.id] = job

    def prepare(
        self, spec: TransferSpec, clock: Callable[[], float] = time.monotonic, expert: bool | None = None
    ) -> RealJob:
        """Check a transfer before any byte moves; InputError for anything unsafe or impossible."""
        plan = self.plan(spec, expert)  # expert: the gate's word for this transfer (default: the engine's)
        tid = len(self.results) + 1
        result = plan.new_result(tid, spec, self.name, self.catalog)
        job = RealJob(self, result, plan, clock)
        if spec.src_file is not None:
            check, job.p2pmem_path, notes = self._check_files(spec, plan, expert)
            job.dst_block = check.target.block_device
            job.src_stat, job.dst_stat = check.src_stat, check.dst_stat
            job.disk_needs = check.disk_needs
            job.buffer_kind = "p2pmem" if job.p2pmem_path is not None else "system memory"
            for note in notes:
                result.note(note)
            self._file_jobs[tid] = job
        else:
            if plan.provider is not None:
                result.note(
                    "memory → memory copies never run through P2P memory (CPU access to a BAR is uncached MMIO): "
                    "the provider only shapes the predicted route"
                )
            job.buffer_kind = "system memory"
        self.results[tid] = result
        return job


class RealJob:
    """One prepared real copy; ``run()`` blocks (call it in a thread), never raises, and fills in the result."""

    def __init__(self, engine: RealEngine, result: TransferResult, plan: RoutePlan, clock: Callable[[], float]):
        self.engine = engine
        self.result = result
        self.plan = plan
        self.clock = clock
        self.cancel_event = threading.Event()
        self.progress = Progress()
        self.buffer_kind = "system memory"
        self.p2pmem_path: str | None = None
        self.dst_block = False
        self.buffer: CopyBuffer | None = None
        self.src_stat: os.stat_result | None = None  # the files as the checks saw them (None: not there yet)
        self.dst_stat: os.stat_result | None = None
        self.outputs: list[tuple[TemporaryOutput, str]] = []  # temporary files being written, with what they become
        self.disk_needs: dict[int, int] = {}  # filesystem (st_dev) -> bytes this file copy writes there

    @property
    def id(self) -> int:
        return self.result.id

    # -- running ------------------------------------------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_event.set()

    def abandon(self) -> None:
        """Remove the names of this copy's temporary files at once, from any thread, while its workers may still
        write to them: for a process about to exit without waiting (the data goes with the last descriptor)."""
        self.cancel_event.set()
        for output, _ in list(self.outputs):
            output.remove_name()

    def memory_to_come(self) -> int:
        """Bytes of RAM this memory copy has yet to allocate: both buffers before it starts, then the source's
        unfilled part and the whole destination, then the destination's uncopied part (filled lazily)."""
        size = self.result.spec.size
        if self.result.state.finished:
            return 0
        if self.progress.per_thread:
            return max(0, size - self.progress.total)
        return max(0, 2 * size - self.progress.prepared)

    def disk_to_come(self, dev: int) -> int:
        """Bytes this file copy has yet to write to filesystem ``dev`` (all of it before the copy proper starts)."""
        need = self.disk_needs.get(dev, 0)
        if self.result.state.finished or not need:
            return 0
        return max(0, need - self.progress.total) if self.progress.per_thread else need

    def run(self) -> None:
        result, spec = self.result, self.result.spec
        result.state, result.started_at = TransferState.RUNNING, self.clock()
        held = False
        try:
            if self.cancel_event.is_set():
                raise CopyCancelled()
            if self.buffer_kind == "p2pmem":
                provider, path = self.plan.provider, self.p2pmem_path
                assert provider is not None and path is not None  # a P2P memory buffer: checked when planned
                with self.engine._lock:
                    single = self.engine.pools.take_staging(result.id, provider, spec)
                held = True
                self.buffer = self._map_p2pmem(provider, path, single)
            if spec.src_file is not None:
                self._run_files()
            else:
                self._run_memory()
            if result.verified is False:
                self._fail(TransferState.FAILED, result.error or "MISMATCH on data check")
            else:
                result.state = TransferState.DONE
        except CopyCancelled:
            self._fail(TransferState.CANCELLED, "cancelled")
        except (PoolError, MappingError, NotEnoughMemory) as exc:
            self._fail(TransferState.REFUSED, str(exc))
        except Exception as exc:  # noqa: BLE001 - a copy's failure is reported as the transfer's state
            self._fail(TransferState.FAILED, _describe(exc))
        finally:
            if self.buffer is not None:
                self.buffer.close()
            with self.engine._lock:
                if held:
                    self.engine.pools.release(result.id)
                self.engine._memory_jobs.pop(result.id, None)

    def _map_p2pmem(self, provider: Device, path: str, single: str | None) -> P2PMemBuffer:
        """The staging buffer in ``provider``'s P2P memory, as much as the ledger holds for it: two slots per thread
        (each thread reads the next chunk while the last is written), or one where ``single`` says why
        (pools.take_staging) or the mapping cannot give two, said in a note."""
        spec, result = self.result.spec, self.result
        if single is None:
            try:
                buffer = P2PMemBuffer(path, spec.chunk, spec.threads, provider.name, spec.staging_depth())
            except MappingError as exc:
                single = str(exc)
                with self.engine._lock:  # hand back the second slot of every thread
                    self.engine.pools.release(result.id)
                    self.engine.pools.take(result.id, provider, spec.buffer_bytes, f"transfer {spec.label}")
            else:
                result.note(f"buffer: {buffer.size} B of {provider.name}'s P2P memory ({path}), two chunks per thread")
                return buffer
        buffer = P2PMemBuffer(path, spec.chunk, spec.threads, provider.name, 1)
        result.note(f"buffer: {buffer.size} B of {provider.name}'s P2P memory ({path}), {one_slot(single)}")
        return buffer

    def _host_buffer(self) -> HostBuffer:
        """Two chunks per thread of system memory, or one for --serial or where the system cannot map two (ENOMEM),
        said in a note."""
        spec = self.result.spec
        if not spec.serial:
            try:
                return HostBuffer(spec.chunk, spec.threads, spec.staging_depth())
            except OSError as exc:
                if exc.errno != errno.ENOMEM:
                    raise
        buffer = HostBuffer(spec.chunk, spec.threads, 1)
        why = SERIAL_ASKED if spec.serial else "mapping two per thread ran out of memory"
        self.result.note(f"buffer: {buffer.size} B of system memory, {one_slot(why)}")
        return buffer

    def _run_files(self) -> None:
        """Copy into a temporary file beside the destination, verify it (--check), then rename it into place: an
        existing destination is only ever replaced whole. A block device is written in place (the user named it)."""
        result, spec = self.result, self.result.spec
        src, dst = spec.src_file, spec.dst_file
        assert src is not None and dst is not None  # a file copy: the spec names both files
        expected = None
        src_stat = self.src_stat
        if spec.check:
            expected, src_stat = self._write_check_source(src)
        if self.buffer is None:
            self.buffer = self._host_buffer()
        output = None if self.dst_block else self._temporary(dst, self.dst_stat, "the destination")
        outcome = copy_file(
            src,
            dst,
            spec.size,
            self.buffer,
            dst_fd=output.fd if output else None,
            src_checked=src_stat,
            dst_checked=self.dst_stat,
            cancel=self.cancel_event,
            progress=self.progress,
            direct=self.engine.direct,
        )
        for note in outcome.notes:
            result.note(note)
        self._timed(outcome.nbytes, outcome.seconds)
        if expected is not None:
            written = output.path if output else dst
            result.verified = file_digest(written, spec.size, self.cancel_event) == expected
            if not result.verified:
                at = first_difference(src, written, spec.size)
                result.error = f"MISMATCH on data check: destination differs from the source at byte {at}"
                return  # run() fails the copy, which removes the temporary file: the old destination stays
        if output is not None:
            self._install(output, dst)

    def _write_check_source(self, src: str) -> tuple[str, os.stat_result]:
        """--check: seeded data in place of the source, through a temporary file renamed over it (a block device
        the user named is written in place). Its digest, and the new source's stat for the copy's identity check."""
        spec = self.result.spec
        if self.src_stat is not None and stat.S_ISBLK(self.src_stat.st_mode):
            fd = os.open(src, os.O_WRONLY | os.O_CLOEXEC)
            try:
                return write_random(fd, src, spec.size, spec.seed, self.cancel_event), os.fstat(fd)
            finally:
                os.close(fd)
        output = self._temporary(src, self.src_stat, "the --check source")
        expected = write_random(output.fd, src, spec.size, spec.seed, self.cancel_event)
        written = os.fstat(output.fd)
        self._install(output, src)
        return expected, written

    def _temporary(self, target: str, existing: os.stat_result | None, what: str) -> TemporaryOutput:
        output = TemporaryOutput(
            target,
            existing=existing,
            overwrite=existing is not None,
            exists_hint="it appeared after the checks: run the copy again",
        )
        self.outputs.append((output, what))
        return output

    def _install(self, output: TemporaryOutput, target: str) -> None:
        try:
            output.commit()
        except OSError as exc:
            raise CopyFailed(f"cannot put the copy in place as {target}: {reason(exc)}") from exc

    def _run_memory(self) -> None:
        result, spec = self.result, self.result.spec
        self.engine._admit(self)  # memory may have run short since prepare, or other copies started meanwhile
        cancel = self.cancel_event
        src = make_source(spec.size, spec.seed if spec.check else None, cancel=cancel, progress=self.progress)
        dst = np.empty(spec.size, dtype=np.uint8)  # mapped lazily: its pages are faulted in by the copy, as before
        outcome = copy_memory(src, dst, spec.chunk, spec.threads, cancel=cancel, progress=self.progress)
        self._timed(outcome.nbytes, outcome.seconds)
        if spec.check:
            result.verified = digest(src, cancel) == digest(dst, cancel)
            if not result.verified:
                result.error = "MISMATCH on data check: destination buffer differs from the source"

    def _timed(self, nbytes: int, seconds: float) -> None:
        # The copy's own timing (threads start to fsync), without the --check data preparation.
        started = self.result.started_at
        assert started is not None  # run() sets it first
        self.result.bytes_done = nbytes
        self.result.ended_at = started + seconds

    def _fail(self, state: TransferState, message: str) -> None:
        result = self.result
        result.state, result.error = state, message
        if state is not TransferState.FAILED or result.ended_at is None:
            result.bytes_done = self.progress.total if self.progress.per_thread else 0
            result.ended_at = self.clock()
        for output, what in self.outputs:
            if output.committed:
                continue
            left = output.discard()
            if left is not None:
                result.note(f"could not remove the temporary file {left} ({what})")
            elif output.existing is not None:
                result.note(f"removed the unfinished temporary file: {output.target} keeps its previous contents")
            else:
                result.note(f"removed the unfinished temporary file: {output.target} was not created")
        dst = result.spec.dst_file
        if self.progress.dst_opened:
            result.note(
                f"the block device {dst} was written in place: what the copy wrote before it stopped stays "
                "there (that cannot be undone)"
            )


class NotEnoughMemory(RuntimeError):
    """A memory copy would not fit in RAM when it came to start; the message says how much it needs and has."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__
