"""The real engine on small files in tmp_path: O_DIRECT copies, the p2pmem path (a stand-in for the provider's
allocate file), verification, safety rules, and cleanup after failures and cancels."""

import errno
import os
import threading

import pytest
from device_nodes import mounted_block_device
from engine_fabrics import switch_fabric
from job_watch import run_watching

from p2ptui.engine import real_files
from p2ptui.engine.real import RealEngine
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.errors import InputError

MiB = 1 << 20


@pytest.fixture
def switch():
    return switch_fabric()  # ep1 and ep2 have 1 GiB P2P pools with allocate files


@pytest.fixture
def standin(tmp_path):
    path = tmp_path / "allocate"
    path.write_bytes(b"\0" * (8 * MiB))  # the real file reports 1 TiB; a stand-in only needs the mapped size
    return str(path)


def _maps_mention(path: str) -> bool:
    with open("/proc/self/maps") as f:
        return path in f.read()


def _open_fds() -> set[str]:
    return {
        os.readlink(f"/proc/self/fd/{fd}")
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    }


def _run(engine, spec):
    job = engine.prepare(spec)
    job.run()
    return job


def test_memory_copy_verifies_a_seeded_digest(switch):
    job = _run(RealEngine(switch), TransferSpec("ep1", "ep2", 6 * MiB + 5, chunk=MiB, threads=2, check=True, seed=9))
    r = job.result
    assert r.state is TransferState.DONE and r.verified is True and r.bytes_done == 6 * MiB + 5
    assert r.seconds > 0 and r.bytes_per_s > 0
    assert not any("P2P memory" in n for n in r.notes)  # no provider given


def test_file_copy_with_o_direct_and_an_unaligned_tail(switch, tmp_path):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    spec = TransferSpec(
        "ep1", "ep2", 5 * MiB + 123, chunk=MiB, threads=3, check=True, seed=1, src_file=src, dst_file=dst
    )
    r = _run(RealEngine(switch), spec).result
    assert r.state is TransferState.DONE and r.verified is True
    with open(src, "rb") as a, open(dst, "rb") as b:
        assert a.read() == b.read()
    assert not any("O_DIRECT" in n for n in r.notes)  # ext4/tmpfs here take O_DIRECT


def test_copy_through_p2p_memory_maps_the_allocate_file_and_releases_it(switch, tmp_path, standin):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    engine = RealEngine(switch, p2pmem_files={"ep1": standin})
    spec = TransferSpec("ep2", "ep2", 4 * MiB, via="ep1", chunk=MiB, threads=2, check=True, src_file=src, dst_file=dst)
    job = engine.prepare(spec)
    assert job.buffer_kind == "p2pmem"
    seen = run_watching(job, lambda: (_maps_mention(standin), engine.pools.available("ep1")))
    r = job.result
    assert r.state is TransferState.DONE and r.verified is True
    assert set(seen) == {(True, (1 << 30) - 4 * MiB)}  # mapped, two chunks per thread taken, at every write
    assert not _maps_mention(standin) and engine.pools.available("ep1") == 1 << 30
    assert any("P2P memory" in n and "two chunks per thread" in n for n in r.notes)


def test_p2pmem_needs_page_multiple_chunks(switch, tmp_path, standin):
    engine = RealEngine(switch, p2pmem_files={"ep1": standin})
    spec = TransferSpec(
        "ep2", "ep2", MiB, via="ep1", chunk=6000, check=True, src_file=str(tmp_path / "s"), dst_file=str(tmp_path / "d")
    )
    # An input error before anything runs (O_DIRECT's 4 KiB rule catches 6000 B before the page-size rule).
    with pytest.raises(InputError, match="chunk 6000 B is not a multiple of 4 KiB"):
        engine.prepare(spec)
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists() and not engine.results


def _failing_pwritev(after: int, code=errno.EIO):
    real = os.pwritev
    calls = {"n": 0}

    def pwritev(fd, buffers, offset):
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(code, os.strerror(code))
        return real(fd, buffers, offset)

    return pwritev


def test_a_failed_copy_leaves_no_destination_no_mapping_no_open_file(switch, tmp_path, standin, monkeypatch):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    engine = RealEngine(switch, p2pmem_files={"ep1": standin})
    spec = TransferSpec("ep2", "ep2", 4 * MiB, via="ep1", chunk=MiB, threads=2, check=True, src_file=src, dst_file=dst)
    job = engine.prepare(spec)
    before = _open_fds()
    monkeypatch.setattr(os, "pwritev", _failing_pwritev(1))
    job.run()
    monkeypatch.undo()
    r = job.result
    assert r.state is TransferState.FAILED and "Input/output error" in r.error
    assert not os.path.exists(dst)
    assert not _maps_mention(standin)
    assert _open_fds() <= before
    assert engine.pools.available("ep1") == 1 << 30
    assert f"removed the unfinished temporary file: {dst} was not created" in r.notes
    assert sorted(os.listdir(tmp_path)) == ["allocate", "src"]


def test_a_cancelled_copy_leaves_nothing_behind(switch, tmp_path, standin, monkeypatch):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    engine = RealEngine(switch, p2pmem_files={"ep1": standin})
    spec = TransferSpec("ep2", "ep2", 4 * MiB, via="ep1", chunk=MiB, check=True, src_file=src, dst_file=dst)
    job = engine.prepare(spec)
    started = threading.Event()
    real = os.pwritev

    def pwritev(fd, buffers, offset):
        n = real(fd, buffers, offset)
        started.set()
        assert job.cancel_event.wait(10)  # hold the copy until the test cancels it
        return n

    monkeypatch.setattr(os, "pwritev", pwritev)
    worker = threading.Thread(target=job.run)
    worker.start()
    assert started.wait(10)
    job.cancel()
    worker.join(10)
    r = job.result
    assert r.state is TransferState.CANCELLED and 0 < r.bytes_done < 4 * MiB
    assert not os.path.exists(dst) and not _maps_mention(standin)


def test_a_mismatch_fails_the_copy_and_removes_the_destination(switch, tmp_path, monkeypatch):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    real = os.pwritev

    def corrupt(fd, buffers, offset):
        if offset == MiB:
            buffers[0][7] ^= 0xFF
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", corrupt)
    r = _run(RealEngine(switch), TransferSpec("ep1", "ep2", 2 * MiB, check=True, src_file=src, dst_file=dst)).result
    assert r.state is TransferState.FAILED and r.verified is False
    assert f"MISMATCH on data check: destination differs from the source at byte {MiB + 7}" in r.error
    assert not os.path.exists(dst) and os.path.exists(src)


def test_buffered_fallback_where_the_filesystem_refuses_o_direct(switch, tmp_path, monkeypatch):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    real_open = os.open

    def no_direct(path, flags, mode=0o777, **kw):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(real_files.os, "open", no_direct)
    r = _run(RealEngine(switch), TransferSpec("ep1", "ep2", 3 * MiB, check=True, src_file=src, dst_file=dst)).result
    assert r.state is TransferState.DONE and r.verified is True
    assert any("refuses O_DIRECT: buffered I/O" in n for n in r.notes)


def test_safety_existing_files_need_expert_and_yes(switch, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(os.urandom(MiB))
    dst.write_bytes(b"keep me")
    spec = TransferSpec("ep1", "ep2", MiB, src_file=str(src), dst_file=str(dst))
    with pytest.raises(InputError, match="exists"):
        RealEngine(switch).prepare(spec)
    with pytest.raises(InputError, match="--yes"):
        RealEngine(switch, expert=True).prepare(spec)
    assert dst.read_bytes() == b"keep me"
    r = _run(RealEngine(switch, expert=True, yes=True), spec).result
    assert r.state is TransferState.DONE and dst.read_bytes() == src.read_bytes()
    # --check writes the source first, so an existing source is protected the same way.
    with pytest.raises(InputError, match="exists"):
        RealEngine(switch).prepare(
            TransferSpec("ep1", "ep2", MiB, check=True, src_file=str(src), dst_file=str(tmp_path / "new"))
        )
    with pytest.raises(InputError, match="does not exist"):
        RealEngine(switch).prepare(
            TransferSpec("ep1", "ep2", MiB, src_file=str(tmp_path / "missing"), dst_file=str(tmp_path / "new"))
        )


def test_safety_block_devices(switch, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(MiB))
    mounted = mounted_block_device()
    if mounted is None:
        pytest.skip("no mounted block device visible")
    spec = TransferSpec("ep1", "ep2", MiB, src_file=str(src), dst_file=mounted)
    with pytest.raises(InputError, match="in use|mounted"):
        RealEngine(switch, expert=True, yes=True).prepare(spec)
    loops = [f"/dev/loop{i}" for i in range(8) if os.path.exists(f"/dev/loop{i}")]
    if loops:
        with pytest.raises(InputError, match="block device"):
            RealEngine(switch).prepare(TransferSpec("ep1", "ep2", MiB, src_file=str(src), dst_file=loops[-1]))
