"""safe_write, the one way p2ptui writes a file: what it refuses (links, devices, directories, FIFOs, sockets, an
existing file without overwrite, the input itself), what it keeps (modes, the old file on any failure) and what it
never leaves behind (temporary files, at the target's directory or anywhere else)."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from device_nodes import full_device
from unprivileged import skip_unless_nobody_can_run

from p2ptui.errors import InputError
from p2ptui.formats import safe_write
from p2ptui.formats.safe_write import (
    check_target,
    ensure_directory,
    open_output,
    refuse_input_as_output,
    write_output,
)


def one_message(info: pytest.ExceptionInfo[InputError]) -> tuple[str, str, str]:
    [diag] = info.value.diagnostics
    return str(diag.location), diag.message, diag.hint


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_new_file_gets_the_data_and_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_output(tmp_path / "out.yaml", "name: x\n", overwrite=False)
    finally:
        os.umask(old)
    assert (tmp_path / "out.yaml").read_text() == "name: x\n"
    assert stat.S_IMODE((tmp_path / "out.yaml").stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600
    assert listing(tmp_path) == ["out.yaml"]


def test_bytes_are_written_as_given(tmp_path: Path) -> None:
    write_output(tmp_path / "b.bin", b"\x00\xff\n", overwrite=False)
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff\n"


def test_existing_file_is_kept_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("# my comments\n")
    with pytest.raises(InputError) as info:
        write_output(target, "new\n", overwrite=False)
    assert one_message(info) == (str(target), "cannot write: it already exists", "use --force to replace it")
    assert target.read_text() == "# my comments\n"
    assert listing(tmp_path) == ["mine.yaml"]


def test_overwrite_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("old\n")
    target.chmod(0o604)
    before = target.stat().st_ino
    write_output(target, "new\n", overwrite=True)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert target.stat().st_ino != before  # a new file renamed over the old one, not a rewrite in place
    assert listing(tmp_path) == ["mine.yaml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_replacing_a_users_file_leaves_it_theirs(tmp_path: Path) -> None:
    target = tmp_path / "theirs.yaml"
    target.write_text("old\n")
    os.chown(target, 65534, 65534)
    write_output(target, "new\n", overwrite=True)
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534) and target.read_text() == "new\n"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_device_node_is_refused_and_stays_a_device(tmp_path: Path, overwrite: bool) -> None:
    node = full_device(tmp_path)
    with pytest.raises(InputError) as info:
        write_output(node, "x\n", overwrite=overwrite)
    assert one_message(info)[:2] == (str(node), "cannot write: it is a character device, not a regular file")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert listing(tmp_path) == ["full"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, overwrite: bool) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="it is a FIFO, not a regular file"):
        write_output(fifo, "x\n", overwrite=overwrite)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(InputError, match="it is a socket, not a regular file"):
            write_output(path, "x\n", overwrite=True)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_directory_is_refused_and_no_temporary_file_is_left(tmp_path: Path, overwrite: bool) -> None:
    target = tmp_path / "d.yaml"
    target.mkdir()
    with pytest.raises(InputError, match="cannot write: it is a directory, not a regular file"):
        write_output(target, "x\n", overwrite=overwrite)
    assert listing(tmp_path) == ["d.yaml"] and listing(target) == []


def test_a_directory_whose_parent_is_the_root_leaves_nothing_at_the_root() -> None:
    # The old writer put its temporary file beside the target: `-o /tmp` left /.tmp.tmp behind.
    before = set(os.listdir("/"))
    try:
        with pytest.raises(InputError, match="it is a directory"):
            write_output("/tmp", "x\n", overwrite=True)
    finally:
        new = set(os.listdir("/")) - before
        for name in new:
            if name.startswith(".tmp"):
                os.unlink(os.path.join("/", name))
    assert new == set()


def test_a_name_ending_in_a_slash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the name ends with a slash"):
        write_output(f"{tmp_path}/new.yaml/", "x\n", overwrite=True)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("dangling", [False, True])
def test_a_symbolic_link_is_refused_not_followed_or_replaced(tmp_path: Path, overwrite: bool, dangling: bool) -> None:
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("precious\n")
    link = tmp_path / "link.yaml"
    link.symlink_to("victim.txt")
    with pytest.raises(InputError) as info:
        write_output(link, "x\n", overwrite=overwrite)
    _, message, hint = one_message(info)
    assert message == "cannot write: it is a symbolic link, and p2ptui does not write through links"
    assert "victim.txt" in hint
    assert link.is_symlink() and os.readlink(link) == "victim.txt"
    assert victim.exists() != dangling and (dangling or victim.read_text() == "precious\n")


def test_a_link_planted_at_the_old_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".out.yaml.tmp").symlink_to(victim)
    write_output(tmp_path / "out.yaml", "fabric\n", overwrite=False)
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "out.yaml").read_text() == "fabric\n" and not (tmp_path / "out.yaml").is_symlink()
    assert listing(tmp_path) == [".out.yaml.tmp", "out.yaml", "victim.txt"]


def test_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        write_output(tmp_path / "no" / "out.yaml", "x\n", overwrite=True)
    location, message, _ = one_message(info)
    assert location == str(tmp_path / "no" / "out.yaml")
    assert message == f"cannot write: directory {tmp_path / 'no'}: No such file or directory"


def test_a_file_in_the_path_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="cannot write: Not a directory"):
        write_output(tmp_path / "f" / "out.yaml", "x\n", overwrite=True)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.yaml"
    target.write_text("old\n")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(safe_write.os, "fsync", disk_full)
    with pytest.raises(InputError) as info:
        write_output(target, "new\n", overwrite=True)
    assert one_message(info) == (str(target), "cannot write: No space left on device", "")
    assert target.read_text() == "old\n" and listing(tmp_path) == ["out.yaml"]


def test_ctrl_c_mid_write_leaves_no_temporary(tmp_path: Path, monkeypatch) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(safe_write.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output(tmp_path / "out.yaml", "new\n", overwrite=True)
    assert listing(tmp_path) == []


def test_a_temporary_that_cannot_be_removed_is_named_not_a_traceback(tmp_path: Path, monkeypatch) -> None:
    def refused(*args: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    def not_permitted(path: str) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(safe_write.os, "replace", refused)
    monkeypatch.setattr(safe_write.os, "unlink", not_permitted)
    with pytest.raises(InputError) as info:
        write_output(tmp_path / "out.yaml", "new\n", overwrite=True)
    monkeypatch.undo()
    _, message, hint = one_message(info)
    [left] = listing(tmp_path)
    assert message == "cannot write: Input/output error"
    assert hint == f"the temporary file {tmp_path / left} could not be removed"
    assert left.startswith(".out.yaml.") and left.endswith(".tmp")


def test_a_file_created_meanwhile_is_not_clobbered_without_overwrite(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.yaml"
    real_fsync = os.fsync

    def someone_else_writes(fd: int) -> None:  # between the check and the rename
        target.write_text("theirs\n")
        real_fsync(fd)

    monkeypatch.setattr(safe_write.os, "fsync", someone_else_writes)
    with pytest.raises(InputError, match="it already exists"):
        write_output(target, "ours\n", overwrite=False)
    assert target.read_text() == "theirs\n" and listing(tmp_path) == ["out.yaml"]


def test_filesystems_without_hard_links_still_get_the_file(tmp_path: Path, monkeypatch) -> None:
    def no_links(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(safe_write.os, "link", no_links)
    write_output(tmp_path / "out.yaml", "ours\n", overwrite=False)
    assert (tmp_path / "out.yaml").read_text() == "ours\n" and listing(tmp_path) == ["out.yaml"]
    with pytest.raises(InputError, match="it already exists"):
        write_output(tmp_path / "out.yaml", "again\n", overwrite=False)
    assert (tmp_path / "out.yaml").read_text() == "ours\n" and listing(tmp_path) == ["out.yaml"]


def test_a_long_name_still_fits_its_temporary_name(tmp_path: Path) -> None:
    name = "f" * 250 + ".yaml"
    write_output(tmp_path / name, "x\n", overwrite=False)
    assert listing(tmp_path) == [name]


def test_check_target_returns_the_existing_stat(tmp_path: Path) -> None:
    assert check_target(tmp_path / "new.yaml", overwrite=False) is None
    (tmp_path / "old.yaml").write_text("x")
    assert check_target(tmp_path / "old.yaml", overwrite=True).st_size == 1


def test_the_input_itself_is_refused_by_any_name(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text("x")
    os.link(source, tmp_path / "hard.yaml")
    (tmp_path / "soft.yaml").symlink_to("in.yaml")
    for output in ("in.yaml", "hard.yaml", "soft.yaml"):
        with pytest.raises(InputError) as info:
            refuse_input_as_output(source, tmp_path / output, "in.yaml")
        assert one_message(info)[1:] == ("cannot write: it is the input in.yaml itself", "write to another file")
    (tmp_path / "other.yaml").write_text("x")
    refuse_input_as_output(source, tmp_path / "other.yaml", "in.yaml")
    refuse_input_as_output(source, tmp_path / "absent.yaml", "in.yaml")
    refuse_input_as_output(None, source, "local")


def test_ensure_directory(tmp_path: Path) -> None:
    assert ensure_directory(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    ensure_directory(tmp_path / "a")  # an existing directory is fine
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError) as info:
        ensure_directory(tmp_path / "file")
    assert one_message(info)[1] == "cannot create the directory: it exists and is not a directory"
    with pytest.raises(InputError, match="cannot create the directory: Not a directory"):
        ensure_directory(tmp_path / "file" / "sub")


def _unprivileged(argv: list[str], locked: Path) -> subprocess.CompletedProcess[str]:
    """Run argv as a user who may not write in ``locked``: nobody when root, else this user with the directory
    read-only."""
    if os.geteuid() == 0:
        skip_unless_nobody_can_run()
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    else:
        locked.chmod(0o500)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")


@pytest.mark.parametrize("searchable", [True, False])
def test_permission_denied_is_an_input_error_and_leaves_nothing(searchable: bool) -> None:
    # A world-readable base, since pytest's tmp_path is private to this user; the directory itself stays locked.
    base = Path(tempfile.mkdtemp(prefix="p2ptui-perm-"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o755 if searchable else 0o700)
        locked.chmod(0o755 if searchable else 0o700)  # mkdir's mode is cut by the umask
        target = locked / "x.yaml"
        code = (
            "import sys; from p2ptui.errors import InputError; from p2ptui.formats.safe_write import write_output\n"
            "try:\n    write_output(sys.argv[1], 'x', overwrite=False)\n"
            "except InputError as exc:\n    print(exc); sys.exit(2)\n"
        )
        result = _unprivileged([sys.executable, "-c", code, str(target)], locked)
        locked.chmod(0o755)
        assert result.returncode == 2, result.stderr
        assert result.stdout.strip() == f"{target}: cannot write: Permission denied"
        assert "Traceback" not in result.stderr and listing(locked) == []
    finally:
        shutil.rmtree(base)


def _writers():
    from p2ptui.formats import save_fabric
    from p2ptui.formats.writers import write_fabric

    return {"save_fabric": save_fabric, "write_fabric": write_fabric}


@pytest.mark.parametrize("writer", ["save_fabric", "write_fabric"])
def test_every_fabric_writer_goes_through_safe_write(tmp_path: Path, writer: str) -> None:
    from p2ptui.formats import load_fabric
    from p2ptui.formats.gallery import find_bundled

    write = _writers()[writer]
    fabric = load_fabric(find_bundled("nvmeof-target"))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "link.yaml").symlink_to(victim)
    (tmp_path / ".out.yaml.tmp").symlink_to(victim)
    node = full_device(tmp_path).rename(tmp_path / "full.yaml")
    for target, message in ((tmp_path / "link.yaml", "symbolic link"), (node, "character device")):
        with pytest.raises(InputError, match=message):
            write(fabric, target, overwrite=True)
    write(fabric, tmp_path / "out.yaml", overwrite=False)
    assert load_fabric(tmp_path / "out.yaml") == fabric and victim.read_text() == "precious\n"
    with pytest.raises(InputError, match="it already exists"):
        write(fabric, tmp_path / "out.yaml", overwrite=False)
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert listing(tmp_path) == [".out.yaml.tmp", "full.yaml", "link.yaml", "out.yaml", "victim.txt"]


# --- open_output: write_output's rules for text written a piece at a time (the TUI's matrix export) ---------------
def test_streamed_text_appears_whole_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with open_output(target, overwrite=True) as out:
        out.write("a,b\r\n")  # written as given: no newline translation
        out.write("é\n")
        assert target.read_text() == "old\n" and len(listing(tmp_path)) == 2  # the new text is still the temporary's
    assert target.read_bytes() == "a,b\r\né\n".encode() and listing(tmp_path) == ["out.csv"]


def test_a_stream_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old\n")
    with pytest.raises(InputError) as info, open_output(target, overwrite=True) as out:
        out.write('{"half": ')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert one_message(info) == (str(target), "cannot write: No space left on device", "")
    assert target.read_text() == "old\n" and listing(tmp_path) == ["out.json"]
    with pytest.raises(ValueError, match="a bug"), open_output(target, overwrite=True) as out:
        out.write("new")
        raise ValueError("a bug")  # not an output error: passed on as it is, nothing left behind either
    assert target.read_text() == "old\n" and listing(tmp_path) == ["out.json"]


def test_a_stream_is_refused_where_write_output_refuses(tmp_path: Path) -> None:
    (tmp_path / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(InputError, match="symbolic link"), open_output(tmp_path / "link.csv", overwrite=True):
        pytest.fail("the block must not run for a refused target")
    assert listing(tmp_path) == ["link.csv"]


# --- TemporaryOutput: the same rules for writers that stream (the real engine's file copies) -----------------------
def test_a_streamed_output_appears_only_when_committed(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    output = safe_write.TemporaryOutput(target, existing=None, overwrite=False)
    os.write(output.fd, b"half")
    assert listing(tmp_path) == [os.path.basename(output.path)] and not target.exists()
    os.write(output.fd, b" and the rest")
    output.commit()
    assert target.read_bytes() == b"half and the rest" and listing(tmp_path) == ["out.bin"]
    assert output.committed and output.discard() is None and target.exists()  # discard after commit: nothing


def test_a_discarded_output_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    output = safe_write.TemporaryOutput(target, existing=os.stat(target), overwrite=True)
    os.write(output.fd, b"new but unfinished")
    assert output.discard() is None and output.discard() is None
    assert target.read_bytes() == b"old" and listing(tmp_path) == ["out.bin"]


def test_a_target_swapped_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    target, other = tmp_path / "out.bin", tmp_path / "other"
    target.write_bytes(b"confirmed")
    other.write_bytes(b"never confirmed")
    output = safe_write.TemporaryOutput(target, existing=os.stat(target), overwrite=True)
    os.replace(other, target)
    with pytest.raises(InputError) as info:
        output.commit()
    _, message, _ = one_message(info)
    assert message == "cannot write: it was replaced by another file while the new one was being written"
    output.discard()
    assert target.read_bytes() == b"never confirmed" and listing(tmp_path) == ["out.bin"]


def test_remove_name_leaves_the_descriptor_to_its_writer(tmp_path: Path) -> None:
    output = safe_write.TemporaryOutput(tmp_path / "out.bin", existing=None, overwrite=False)
    output.remove_name()
    assert listing(tmp_path) == []
    assert os.write(output.fd, b"still writable") == 14  # a worker thread mid-write is not cut off
    assert output.discard() is None
