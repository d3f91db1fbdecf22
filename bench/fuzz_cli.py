"""Fuzz the command line itself (budget: 0 tracebacks, 0 undocumented exit codes, 0 hangs, 0 bad JSON).

Run: python bench/fuzz_cli.py [--seed S] [--random N] [--random-only] [--jobs J] [--timeout SECONDS] [--only WORD]
bench/bench_fuzz.py fuzzes what the readers read; this script fuzzes what the CLI is given: every subcommand's
options with wrong, empty, repeated, huge, negative, NaN/inf and unicode values, fabric arguments of every kind
(misspelt bundled names, empty, binary, valid YAML that is no fabric, a huge line, directories, FIFOs, unreadable
files, /proc and /dev/null, dangling links, each file in tests/data), output paths that cannot be written, and
environments (no TERM, TERM=dumb, COLUMNS=1 and 10000, LANG=C, standard input/output closed, /dev/full, a reader
that stops after 10 bytes). Every case runs as a subprocess in a temporary directory; nothing is written outside
it. The systematic cases (each option with each odd value, the others valid) come first, then --random cases that
mutate two or three options at once, drawn from --seed. A case fails on a traceback ("Traceback" or "Exception
ignored" on stderr), an exit code the README does not document for the command (0, 1, 2; 3 for check; argparse's
own 2), a timeout, exit 2 with nothing said on an open standard error, or --json output that does not parse when
the command answered (exit 0, 1 or 3). Prints counts per command and every failure; exits 1 on any.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
BUNDLED = "nvmeof-target"
# Root reads a mode-000 file anyway: without these capabilities it cannot, so "unreadable" cases mean something.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
# Every case runs so when it can: as root, the read-only directory and mode-000 files would not stop anything.
DROP_DAC = os.geteuid() == 0 and shutil.which("setpriv") is not None
DOCUMENTED = {"check": {0, 1, 2, 3}}  # every other command: 0, 1, 2 (README, "Exit codes")
SHOW_OUTPUT = 600
COMMANDS = {"fabrics", "show", "validate", "describe", "scan", "convert", "open", "demo", "screenshot", "check"}
COMMANDS |= {"find-provider", "matrix", "copy", "fleet"}

# Odd values, by what the option takes. Each list is tried in full against every option of that type.
ODD_TEXT = ["", " ", "-", "--", "\t", "é", "日本", "\u202e", "a" * 5000, "x\ny", "%s%n", "\\x00", "None", "null"]
ODD_NUMBER = ["0", "-1", "1.5", "nan", "inf", "-inf", "1e400", "99999999999999999999999", "0x10", "1_0", "٣", "１"]
ODD_SIZE = ["1.5.5GiB", "0", "-1", "-1GiB", "nan", "infGiB", "1e400", "9" * 40 + "PiB", "1 GiB", "1GB", "1gib"]
ODD_SIZE += ["0.5", "1.5B", "GiB", "1XiB", "٣GiB", "１GiB", "1e3", "0x100", "4EiB", "1024PiB"]
ODD_DEVICE = ["nope", "NVME0", "nvme0 ", "0000:1b:00.0", "1b:00.0", "ff:1f.7", "0000:1b:00.8", "1b:00", "zz:zz.z"]
ODD_DEVICE += ["ffff:ff:ff.7", "10000:00:00.0", "dsp0", "hb0", "usp0", "host", "nonpci:x", "nonpci:", "pci0000:17"]
ODD_DEVICE += ["nvme٠", "nvme0,nvme1"]
ODD_KERNEL = ["4.19", "4.20", "3", "latest", "LATEST", "6.8.0-45-generic", "abc", "99999999999999999999.0", "-1"]
ODD_KERNEL += ["6.", ".6", "6..1", "٦.١", "nan", "4.20.0.0.0.0", "v6.1"]
ODD_CPU = ["amd", "intel", "arm", "AMD", "amd:", "amd:0x19", "amd:0x1000", "amd:-1", "amd:nan", "amd:0x", "amd:19"]
ODD_CPU += ["intel:0x6", "amd:0x19:1", ":0x19", "amd:１９", "amd:9" * 20]
ODD_CMDLINE = ["pci=disable_acs_redir=", "pci=disable_acs_redir=zz", "pci=disable_acs_redir=0000:1b:00.0"]
ODD_CMDLINE += ["pci=disable_acs_redir=pci:10b5:8796", "pci=disable_acs_redir=pci:zz:zz", "pci=disable_acs_redir=@"]
ODD_CMDLINE += ["pci=disable_acs_redir=0000:19:00.0;0000:19:01.0", "pci=disable_acs_redir=;;;", "iommu=pt"]
ODD_CMDLINE += ["intel_iommu=on amd_iommu=off", "pci=disable_acs_redir=" + "0000:19:00.0;" * 500, "pci=", "="]
ODD_ASSUME = ["acs-clear", "acs-set", "acs", "cpu=", "cpu=amd:0x19", "cpu=zzz", "iommu=on", "iommu=x", "kernel="]
ODD_ASSUME += [
    "kernel=6.8",
    "kernel=abc",
    "host-bridges=whitelisted",
    "host-bridges=",
    "foo=bar",
    "=",
    "cpu=amd:0x1000",
]
ODD_ONLY = ["gpu", ",", "gpu,,nic", "GPU", "bogus", "gpu,bogus", "pool", "cxl", "video", "gpu,gpu"]
ODD_SCREEN = ["0x0", "79x24", "80x23", "501x200", "500x201", "x", "80x", "x24", "80X24", "١٢٠x٤٠", "80x24x1", "-80x24"]
ODD_SCREEN += ["nanxnan", "1e2x24", "9" * 30 + "x24"]
# 1e-300 was taken once, and the paced copy it started would never have ended: --speed now stays within 0.001-1e6.
ODD_SPEED = ["max", "MAX", "0", "-1", "nan", "inf", "1e308", "fast", "0.0", "1e-300", "0.0009"]
ODD_RATE = ["nvme0=", "=1", "nvme0=nan", "nvme0=-1", "nvme0=1,2,3", "nope=1", "nvme0=inf", "nvme0=1e400", "nvme0"]
ODD_RATE += ["nvme0=1,", "nvme0=,1", "host=1", "nvme0=0"]
ODD_NODESET = ["", "node[", "node[1-", "node[3-1]", "node[1-999999]", "a,,b", "@group", "x" * 300, "nö"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One command line and the conditions it runs under."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str | None], ...] = ()  # None: unset
    stdin: str = "null"  # null, closed, tty-less text given as data:..., or a file path
    stdout: str = "pipe"  # pipe, closed, full (/dev/full), head (a reader that stops after 10 bytes)
    stderr: str = "pipe"  # pipe, closed
    timeout: float | None = None

    def describe(self) -> str:
        env = " ".join(f"{k}={'<unset>' if v is None else v!r}" for k, v in self.env)
        cmd = " ".join(_quote(a) for a in self.argv)
        conditions = [f"stdin={self.stdin}"] if self.stdin != "null" else []
        conditions += [f"stdout={self.stdout}"] if self.stdout != "pipe" else []
        conditions += [f"stderr={self.stderr}"] if self.stderr != "pipe" else []
        return " ".join(x for x in (env, "p2ptui " + cmd, " ".join(conditions)) if x)


@dataclasses.dataclass
class Result:
    case: Case
    kind: str  # ok, traceback, status, hang, silent, json
    code: int | None
    out: str
    err: str
    seconds: float


def _quote(arg: str) -> str:
    shown = arg if len(arg) <= 60 else arg[:40] + f"...({len(arg)} chars)"
    return repr(shown) if not shown or any(c in shown for c in " \t\n'\"$\\;|&") else shown


def make_inputs(tmp: Path) -> dict[str, str]:
    """Files the cases name: odd inputs and unwritable outputs, all under ``tmp``."""
    bundled = REPO / "p2ptui" / "fabrics" / f"{BUNDLED}.yaml"
    files: dict[str, str] = {}

    def put(name: str, data: bytes) -> None:
        (tmp / name).write_bytes(data)
        files[name] = str(tmp / name)

    put("good.yaml", bundled.read_bytes())
    put("empty.yaml", b"")
    put("binary.bin", bytes(range(256)) * 64)
    put("list.yaml", b"- 1\n- 2\n")
    put("scalar.yaml", b"42\n")
    put("mapping.yaml", b"a: b\nc: [1, 2]\n")
    put("null.yaml", b"~\n")
    put("anchors.yaml", b"a: &a [*a]\n")
    put("huge-line.yaml", b"name: " + b"x" * (8 << 20) + b"\n")
    put("json.json", b'{"devices": 3}')
    put("bad-utf8.yaml", b"name: caf\xe9\n")
    put("bom.yaml", b"\xef\xbb\xbf" + bundled.read_bytes())
    put("utf16.yaml", bundled.read_text().encode("utf-16"))
    put("plan-empty.yaml", b"")
    put("plan-list.yaml", b"- 1\n")
    put("plan-bad.yaml", b"transfers:\n  - src: nvme0\n    dst: nope\n    size: 1.5.5GiB\n")
    put("src.bin", os.urandom(1 << 16))
    put("p2pmem", b"\0" * (4 << 20))  # a stand-in for p2pmem/allocate: mapped, never a device
    (tmp / "dir").mkdir()
    files["dir"] = str(tmp / "dir")
    os.mkfifo(tmp / "fifo")
    files["fifo"] = str(tmp / "fifo")
    put("unreadable.yaml", bundled.read_bytes())
    os.chmod(tmp / "unreadable.yaml", 0)
    (tmp / "closed-dir").mkdir()
    shutil.copy(bundled, tmp / "closed-dir" / "in.yaml")
    os.chmod(tmp / "closed-dir", 0)
    files["closed-dir-file"] = str(tmp / "closed-dir" / "in.yaml")
    os.symlink(tmp / "nowhere", tmp / "dangling")
    files["dangling"] = str(tmp / "dangling")
    os.symlink(tmp / "loop2", tmp / "loop1")
    os.symlink(tmp / "loop1", tmp / "loop2")
    files["loop"] = str(tmp / "loop1")
    files["through-file"] = str(tmp / "good.yaml" / "x")
    files["no-parent"] = str(tmp / "no" / "such" / "dir" / "f.yaml")
    files["long-name"] = str(tmp / ("n" * 300))
    (tmp / "ro").mkdir()
    os.chmod(tmp / "ro", 0o555)
    files["ro"] = str(tmp / "ro")
    odd_name = os.fsdecode(os.fsencode(str(tmp)) + b"/caf\xe9.yaml")  # not UTF-8: a surrogate escape in argv
    Path(odd_name).write_bytes(bundled.read_bytes())
    files["non-utf8-name"] = odd_name
    (tmp / "fleet").mkdir()
    shutil.copy(bundled, tmp / "fleet" / "a.yaml")
    shutil.copy(bundled, tmp / "fleet" / "b.yaml")
    files["fleet"] = str(tmp / "fleet")
    (tmp / "fleet-empty").mkdir()
    files["fleet-empty"] = str(tmp / "fleet-empty")
    (tmp / "fleet-odd").mkdir()  # node files that are no regular files: a FIFO must not be opened
    shutil.copy(bundled, tmp / "fleet-odd" / "a.yaml")
    os.mkfifo(tmp / "fleet-odd" / "b.yaml")
    os.symlink("nowhere", tmp / "fleet-odd" / "c.tar.gz")
    (tmp / "fleet-odd" / "d.yml").mkdir()
    files["fleet-odd"] = str(tmp / "fleet-odd")
    (tmp / "fleet-bad").mkdir()
    files["fleet-bad"] = str(tmp / "fleet-bad")
    (tmp / "fleet-bad" / "a.yaml").write_bytes(b"- 1\n")
    (tmp / "fleet-bad" / "b.yaml").write_bytes(bundled.read_bytes())
    return files


def fabric_arguments(files: dict[str, str]) -> list[str]:
    """Odd FABRIC arguments."""
    odd = [BUNDLED, "nvmeof-targte", "NVMEOF-TARGET", "nvmeof-target.yaml", "", " ", "-", "local", "LOCAL"]
    odd += ["/proc/self/status", "/proc/cpuinfo", "/proc", "/dev/null", "/dev/zero", "/", "/sys", "日本"]
    names = ["empty.yaml", "binary.bin", "list.yaml", "scalar.yaml", "mapping.yaml", "null.yaml", "anchors.yaml"]
    names += ["huge-line.yaml", "json.json", "bad-utf8.yaml", "bom.yaml", "utf16.yaml", "dir", "fifo", "dangling"]
    names += ["loop", "through-file", "no-parent", "long-name", "non-utf8-name", "fleet"]
    odd += [files[n] for n in names]
    odd += sorted(str(p) for p in DATA.rglob("*") if p.is_file())
    return odd + [files["unreadable.yaml"], files["closed-dir-file"]]


def option_cases(files: dict[str, str]) -> list[Case]:
    """Each option of each command with each odd value of its kind; the rest of the line valid."""
    g = BUNDLED
    out = files["ro"]
    tmp = Path(files["dir"]).parent
    bases: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    verdict_options = {
        "--kernel": ODD_KERNEL + ODD_TEXT[:6],
        "--cpu": ODD_CPU + ODD_TEXT[:6],
        "--cmdline": ODD_CMDLINE + ODD_TEXT,
        "--iommu": ["ON", "", "x"],
        "--assume": ODD_ASSUME + ODD_TEXT[:6],
    }
    bases["check"] = (["check", g, "nvme0", "mlx5_0"], verdict_options)
    bases["describe"] = (["describe", g, "nvme0"], verdict_options)
    bases["find-provider"] = (["find-provider", g, "nvme0", "mlx5_0"], {"--seed": ODD_NUMBER + ODD_TEXT[:6]})
    bases["matrix"] = (
        ["matrix", g],
        {**verdict_options, "--only": ODD_ONLY + ODD_TEXT[:6], "--width": ODD_NUMBER + ["1", "2", "10000000"]},
    )
    copy_sim = ["copy", g, "--src", "nvme0", "--dst", "nvme1", "--via", "nvme2", "--size", "64MiB", "--speed", "max"]
    bases["copy"] = (
        copy_sim,
        {
            "--src": ODD_DEVICE + ODD_TEXT[:6],
            "--dst": ODD_DEVICE + ODD_TEXT[:6],
            "--via": ODD_DEVICE + ODD_TEXT[:6] + ["nvme0", "nvme1", "mlx5_0"],
            "--size": ODD_SIZE + ODD_TEXT[:6],
            "--chunk": ODD_SIZE + ODD_TEXT[:6] + ["1", "3", "64MiB", "1GiB"],
            "--threads": ODD_NUMBER + ODD_TEXT[:6] + ["100000", "1000"],
            "--op": ["WRITE", "", "x"],
            "--efficiency": ODD_NUMBER + ["1.0000001", "1e-300", "0.0"],
            "--device-rate": ODD_RATE + ODD_TEXT[:6],
            "--speed": ODD_SPEED + ODD_TEXT[:6],
            "--seed": ODD_NUMBER,
            "--engine": ["SIM", "", "x"],
        },
    )
    copy_real = ["copy", g, "--engine", "real", "--src", "nvme0", "--dst", "nvme1", "--via", "nvme2", "--no-progress"]
    copy_real += ["--src-file", files["src.bin"], "--dst-file", str(tmp / "copied.bin"), "--expert", "--yes"]
    real_files = [files[n] for n in ("src.bin", "dir", "fifo", "dangling", "loop", "through-file", "no-parent")]
    real_files += [files["long-name"], files["ro"] + "/x", files["non-utf8-name"], "", "-", str(tmp / "new.bin")]
    bases["copy-real"] = (
        copy_real,
        {
            "--src-file": real_files,
            "--dst-file": real_files,
            "--size": ODD_SIZE + ["64GiB", "1PiB"],
            "--chunk": ODD_SIZE + ["1", "4095"],
            "--threads": ODD_NUMBER + ["64", "100000"],
            "--p2pmem-file": real_files + [files["p2pmem"]],
            "--seed": ODD_NUMBER,
        },
    )
    bases["copy-plan"] = (
        ["copy", g, "--speed", "max", "--no-progress"],
        {
            "--plan": [files[n] for n in ("plan-empty.yaml", "plan-list.yaml", "plan-bad.yaml", "dir", "fifo")]
            + [files[n] for n in ("dangling", "good.yaml", "binary.bin", "huge-line.yaml")]
            + ["", "-", "/proc/self/status"]
        },
    )
    bases["screenshot"] = (["screenshot", "--out", str(tmp / "shots")], {"--size": ODD_SCREEN + ODD_TEXT[:6]})
    bases["scan"] = (["scan", str(DATA / "sysfs" / "2pa-pcidomain32bits.tar.bz2")], {"-o": []})
    bases["fleet-diff"] = (
        ["fleet", "diff", str(tmp / "fleet")],
        {
            "--aer-threshold": ODD_NUMBER + ODD_TEXT[:6],
            "--reference": ["a", "nope", "", g, files["binary.bin"], files["dir"], "-", files["fifo"]],
        },
    )
    bases["fleet-collect"] = (
        ["fleet", "collect", "nosuchhost-p2ptui-fuzz", "-o", str(tmp / "collected"), "--exec", "false %h"],
        {
            "--fanout": ODD_NUMBER + ODD_TEXT[:6],
            "--timeout": ODD_NUMBER + ODD_TEXT[:6],
            "--exec": ["", "%h", "no-such-command-p2ptui %h", "false", "%", "%%h", "sh -c 'exit 3' %h", "'unclosed"],
            "-o": [files[n] for n in ("good.yaml", "fifo", "dangling", "through-file", "no-parent")]
            + [files["ro"], "", "-", "/proc/self"],
            "--ssh-options": ["", "'unclosed", "-o ProxyCommand=false"],
        },
    )
    cases = []
    for base, options in bases.values():
        for option, values in options.items():
            for value in values:
                argv = _set_option(base, option, value)
                cases.append(Case(tuple(argv)))
                if option in ("--only", "--width", "--kernel") and value:
                    cases.append(Case(tuple(argv + ["--json"])))
    # Output paths for the commands that write files.
    for target in [files[n] for n in ("good.yaml", "dir", "fifo", "dangling", "loop", "through-file", "no-parent")] + [
        files["long-name"],
        out + "/x.yaml",
        out,
        "/dev/null",
        "/proc/self/status",
        "",
        "-",
        str(tmp / "x.txt"),
        str(tmp / "x.JSON"),
        str(tmp / ".yaml"),
        files["non-utf8-name"],
    ]:
        cases.append(Case(("convert", g, target)))
        cases.append(Case(("convert", g, target, "--force")))
        cases.append(Case(("scan", str(DATA / "sysfs" / "2pa-pcidomain32bits.tar.bz2"), "-o", target)))
        if not target.startswith("/dev") and not target.startswith("/proc"):
            cases.append(Case(("screenshot", "--out", target, "--size", "1x1")))
    cases.append(Case(("convert", files["good.yaml"], files["good.yaml"], "--force")))
    cases.append(Case(("screenshot", "--out", out + "/shots")))  # a real screenshot run into a read-only dir
    return cases


def _set_option(base: list[str], option: str, value: str) -> list[str]:
    argv = list(base)
    if option in argv:
        argv[argv.index(option) + 1] = value
        return argv
    return argv + [option, value]


def fabric_cases(files: dict[str, str]) -> list[Case]:
    """Every command taking FABRIC, with each odd fabric argument."""
    cases = []
    for fabric in fabric_arguments(files):
        for argv in (
            ["show", fabric],
            ["show", "--json", fabric],
            ["validate", fabric],
            ["describe", fabric],
            ["describe", "--json", fabric, "nvme0"],
            ["check", fabric, "nvme0", "mlx5_0"],
            ["matrix", "--json", fabric],
            ["find-provider", fabric, "nvme0"],
            ["open", fabric],
            ["convert", fabric, str(Path(files["dir"]).parent / "out.json"), "--force"],
            ["copy", fabric, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--speed", "max", "--json"],
            ["fleet", "diff", files["fleet"], "--reference", fabric],
        ):
            cases.append(Case(tuple(argv), stdin=files["good.yaml"] if fabric == "-" else "null"))
        cases.append(Case(("scan", fabric)))
        cases.append(Case((fabric,)))
    return cases


def device_cases() -> list[Case]:
    """Device arguments of check, find-provider and describe."""
    cases = []
    for device in ODD_DEVICE + ODD_TEXT:
        cases.append(Case(("check", BUNDLED, device, "mlx5_0")))
        cases.append(Case(("check", "--json", BUNDLED, "nvme0", device)))
        cases.append(Case(("find-provider", "--json", BUNDLED, device)))
        cases.append(Case(("describe", BUNDLED, device)))
    cases.append(Case(("check", BUNDLED, "nvme0", "nvme0")))  # a provider equal to its client
    cases.append(Case(("check", "--json", BUNDLED, "nvme0", "mlx5_0", "mlx5_0", "1a:00.0")))
    cases.append(Case(("find-provider", BUNDLED, "nvme0", "nvme0", "0000:1b:00.0")))
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme0", "--size", "1MiB", "--speed", "max")))
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--via", "nvme0", "--size", "1MiB")))
    cases.append(Case(("copy", BUNDLED, "--src", "host", "--dst", "host", "--size", "1MiB", "--speed", "max")))
    cases.append(Case(("copy", BUNDLED, "--size", "1MiB")))  # no --src / --dst
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--src", "nvme2")))
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--plan", "x.yaml")))
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--src-file", "a")))  # sim + files
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--yes")))
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--check")))
    cases.append(Case(("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--yes-overwrite", "x")))
    cases.append(Case(("copy", "--engine", "real", BUNDLED, "--src", "host", "--dst", "host", "--size", "1MiB")))
    cases.append(Case(("copy", "--engine", "real", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB")))
    return cases


def structure_cases(files: dict[str, str]) -> list[Case]:
    """Missing, repeated and unknown arguments, top-level options, help and version."""
    tmp = Path(files["dir"]).parent
    lines = [
        [],
        ["--version"],
        ["--help"],
        ["-h"],
        ["--debug"],
        ["--bogus"],
        ["--pci-ids"],
        ["--pci-ids", ""],
        ["--pci-ids", files["binary.bin"], "show", BUNDLED],
        ["--pci-ids", files["dir"], "show", BUNDLED],
        ["--pci-ids", files["fifo"], "show", BUNDLED],
        ["--pci-ids", "/nonexistent", "show", BUNDLED],
        ["--pci-ids", files["huge-line.yaml"], "show", BUNDLED],
        ["--pci-ids", "/dev/null", "show", BUNDLED],
        ["--pci-ids", files["unreadable.yaml"], "show", BUNDLED],
        ["--pci-ids", files["empty.yaml"], "show", BUNDLED],
        ["show"],
        ["show", BUNDLED, BUNDLED],
        ["show", "--json", "--json", BUNDLED],
        ["validate"],
        ["check"],
        ["check", BUNDLED],
        ["check", BUNDLED, "nvme0"],
        ["find-provider", BUNDLED],
        ["matrix"],
        ["copy"],
        ["copy", BUNDLED],
        ["convert"],
        ["convert", BUNDLED],
        ["fleet"],
        ["fleet", "diff"],
        ["fleet", "collect"],
        ["fleet", "bogus"],
        ["fleet", "open"],
        ["fleet", str(tmp / "fleet")],
        ["fleet", files["fleet-empty"]],
        ["fleet", "diff", files["fleet-empty"]],
        ["fleet", "diff", files["fleet-bad"]],
        ["fleet", "diff", "--json", files["fleet-bad"]],
        ["fleet", "diff", files["good.yaml"]],
        ["fleet", "diff", files["fifo"]],
        ["fleet", "diff", "--json", str(tmp / "fleet")],
        ["fleet", "open", files["fleet-empty"]],
        ["fleet", "diff", "/nonexistent"],
        ["fleet", "diff", files["fleet-odd"]],
        ["fleet", "diff", "--json", files["fleet-odd"]],
        ["fleet", files["fleet-odd"]],
        ["fleet", "collect", "n1", "-o", str(tmp / "c2"), "--exec", "false %h"],
        ["demo"],
        ["demo", "--fast"],
        ["screenshot", "--size"],
        ["fabrics", "extra"],
        ["fabrics", "--json"],
        ["show", "--", "-"],
        ["--", "show", BUNDLED],
        ["show", "--jso", BUNDLED],
        ["check", "--kernel"],
        ["describe", BUNDLED, "nvme0", "nvme0"],
        ["describe", "--json", BUNDLED],
        ["matrix", "--json", "--csv", BUNDLED],
        ["matrix", "--all", "--only", "gpu", BUNDLED],
        ["matrix", "--csv", BUNDLED],
        ["check", "--assume", "acs-clear", "--assume", "acs-set", BUNDLED, "nvme0", "mlx5_0"],
        ["check", "--kernel", "4.19", "--json", BUNDLED, "nvme0", "mlx5_0"],
        ["check", "--iommu", "on", "--iommu", "off", BUNDLED, "nvme0", "mlx5_0"],
        [
            "copy",
            BUNDLED,
            "--src",
            "nvme0",
            "--dst",
            "nvme1",
            "--size",
            "1MiB",
            "--device-rate",
            "nvme0=1",
            "--device-rate",
            "nvme0=2",
            "--speed",
            "max",
        ],
    ]
    cases = [Case(tuple(a)) for a in lines]
    for value in ("", files["binary.bin"], files["dir"], "/nonexistent", files["fifo"]):
        cases.append(Case(("show", BUNDLED), env=(("P2PTUI_PCI_IDS", value),)))
    # Standard input as FABRIC: data of every kind, closed, empty.
    for name in ("good.yaml", "empty.yaml", "binary.bin", "list.yaml", "huge-line.yaml", "utf16.yaml"):
        cases.append(Case(("show", "-"), stdin=files[name]))
        cases.append(Case(("copy", "-", "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB"), stdin=files[name]))
    for argv in (("show", "-"), ("convert", "-", str(tmp / "o.yaml")), ("scan", "-"), ("fleet", "diff", "-")):
        cases.append(Case(argv, stdin="closed"))
    cases.append(Case(("copy", BUNDLED, "--plan", "-", "--speed", "max"), stdin=files["good.yaml"]))
    cases.append(Case(("copy", BUNDLED, "--plan", "-", "--speed", "max"), stdin="closed"))
    cases.append(Case(("convert", "-", "-"), stdin=files["good.yaml"]))
    cases.append(Case(("validate", "-"), stdin=files["bad-utf8.yaml"]))
    return cases


def environment_cases(files: dict[str, str]) -> list[Case]:
    """The same commands under odd terminals, locales and standard streams."""
    commands = [
        ("fabrics",),
        ("fabrics", "--json"),
        ("show", BUNDLED),
        ("show", "--json", BUNDLED),
        ("matrix", BUNDLED),
        ("matrix", "large-synthetic", "--only", "gpu"),
        ("check", BUNDLED, "nvme0", "mlx5_0"),
        ("describe", BUNDLED, "nvme0"),
        ("validate", BUNDLED),
        ("--help",),
        ("--version",),
        (),
        (BUNDLED,),
        ("demo",),
        ("find-provider", BUNDLED, "mlx5_0"),
        ("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--via", "nvme2", "--size", "256MiB", "--speed", "max"),
        ("copy", BUNDLED, "--src", "nvme0", "--dst", "nvme1", "--size", "64MiB", "--json", "--speed", "max"),
        ("fleet", "diff", str(Path(files["dir"]).parent / "fleet")),
        ("scan", "-o", "-"),
        ("show", "large-synthetic"),
    ]
    envs: list[tuple[tuple[str, str | None], ...]] = [
        (("TERM", None),),
        (("TERM", "dumb"),),
        (("COLUMNS", "1"),),
        (("COLUMNS", "10000"),),
        (("COLUMNS", "x"),),
        (("COLUMNS", "-5"),),
        (("LINES", "0"),),
        (("LANG", "C"), ("LC_ALL", "C")),
        (("LC_ALL", "tr_TR.UTF-8"),),
        (("PYTHONIOENCODING", "ascii"),),
        (("PYTHONIOENCODING", "latin-1"),),
        (("HOME", None),),
        (("HOME", "/nonexistent"),),
        (("PYTHONIOENCODING", "utf-16"),),
        (("NO_COLOR", "1"),),
    ]
    cases = []
    for argv in commands:
        for env in envs:
            cases.append(Case(argv, env=env))
        for stdout in ("closed", "full", "head"):
            cases.append(Case(argv, stdout=stdout))
        cases.append(Case(argv, stderr="closed", stdout="full"))
        cases.append(Case(argv, stdin="closed"))
    return cases


def random_cases(files: dict[str, str], n: int, seed: int) -> list[Case]:
    """Lines that mutate several things at once, drawn from ``seed``."""
    rng = random.Random(seed)
    fabrics = [a for a in fabric_arguments(files) if "huge" not in a]
    pools = {
        "--kernel": ODD_KERNEL,
        "--cpu": ODD_CPU,
        "--cmdline": ODD_CMDLINE,
        "--assume": ODD_ASSUME,
        "--iommu": ["on", "off", "pt"],
        "--json": [None],
    }
    cases = []
    for _ in range(n):
        command = rng.choice(["check", "matrix", "describe", "find-provider", "copy"])
        fabric = rng.choice([BUNDLED] * 4 + ["sriov-nic", "epyc-rome", "kernel-scenarios"] + fabrics)
        devices = rng.sample(ODD_DEVICE + ["nvme0", "mlx5_0", "nvme1", "gpu0", "nic0"], k=rng.randint(1, 3))
        if command == "copy":
            argv = ["copy", fabric, "--src", devices[0], "--dst", rng.choice(ODD_DEVICE + ["nvme1", "host"])]
            for option, pool in (
                ("--size", ODD_SIZE + ["1MiB"]),
                ("--chunk", ODD_SIZE + ["4KiB"]),
                ("--threads", ODD_NUMBER + ["2"]),
                ("--via", ODD_DEVICE + ["nvme2"]),
                ("--device-rate", ODD_RATE),
                ("--efficiency", ODD_NUMBER),
            ):
                if rng.random() < 0.5:
                    argv += [option, rng.choice(pool)]
            argv += ["--speed", "max", "--no-progress"] + (["--json"] if rng.random() < 0.5 else [])
            if rng.random() < 0.3:
                argv.append("--expert")
        else:
            argv = [command, fabric] + (devices if command != "matrix" else [])
            if command == "check" and len(devices) < 2:
                argv.append("mlx5_0")
            for option in rng.sample(sorted(pools), k=rng.randint(1, 3)):
                value = rng.choice(pools[option])
                argv += [option] if value is None else [option, value]
        cases.append(Case(tuple(argv)))
    return cases


def run(case: Case, tmp: Path, timeout: float) -> Result:
    env = dict(os.environ, PYTHONPATH=str(REPO), P2PTUI_PCI_IDS=str(DATA / "pci.ids"))
    env.pop("PYTHONWARNINGS", None)
    for key, value in case.env:
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    argv = [sys.executable, "-m", "p2ptui", *case.argv]
    if DROP_DAC:
        argv = NO_DAC + argv
    head = case.stdout == "head"
    # Redirections the child gets; "closed" is done by a shell-free preexec (close the fd).
    stdin = subprocess.DEVNULL if case.stdin in ("null", "closed") else open(case.stdin, "rb")
    stdout = (
        {"pipe": subprocess.PIPE, "head": subprocess.PIPE, "closed": subprocess.DEVNULL}[case.stdout]
        if (case.stdout != "full")
        else open("/dev/full", "wb")
    )
    stderr = subprocess.PIPE if case.stderr == "pipe" else subprocess.DEVNULL
    close = [fd for fd, what in ((0, case.stdin), (1, case.stdout), (2, case.stderr)) if what == "closed"]

    def preexec() -> None:
        for fd in close:
            os.close(fd)

    began = time.perf_counter()
    limit = case.timeout or timeout
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=tmp, preexec_fn=preexec)
        if head:
            assert proc.stdout is not None
            first = proc.stdout.read(10)
            proc.stdout.close()  # the reader stops: the child's next write gets EPIPE / SIGPIPE
            _, err = proc.communicate(timeout=limit)
            out = first
        else:
            out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Result(case, "hang", None, _text(out), _text(err), time.perf_counter() - began)
    finally:
        for stream in (stdin, stdout):
            if hasattr(stream, "close"):
                stream.close()
    took = time.perf_counter() - began
    encoding = dict(case.env).get("PYTHONIOENCODING") or "utf-8"
    out_text, err_text = _text(out, encoding), _text(err, encoding)
    return Result(case, classify(case, proc.returncode, out_text, err_text), proc.returncode, out_text, err_text, took)


def _text(data: bytes | None, encoding: str = "utf-8") -> str:
    return (data or b"").decode(encoding, "replace")


def classify(case: Case, code: int, out: str, err: str) -> str:
    if "Traceback (most recent call last)" in err or "Exception ignored" in err:
        return "traceback"
    command = command_of(case)
    allowed = DOCUMENTED.get(command, {0, 1, 2})
    if code not in allowed:
        return "status"
    if code == 2 and case.stderr == "pipe" and not err.strip():
        return "silent"
    if "--json" in case.argv and code in (0, 1, 3) and case.stdout == "pipe" and not _parses(out):
        return "json"
    return "ok"


def command_of(case: Case) -> str:
    """The command a case runs, as p2ptui picks it: the first word that is no option nor --pci-ids' value, and
    ``open`` for a first word that is no command (``p2ptui FABRIC``)."""
    words = [
        a for i, a in enumerate(case.argv) if not a.startswith("-") and (i == 0 or case.argv[i - 1] != "--pci-ids")
    ]
    if not words:
        return "(none)"
    return words[0] if words[0] in COMMANDS else "open"


def _parses(out: str) -> bool:
    try:
        json.loads(out)
    except ValueError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the random cases")
    parser.add_argument("--random", type=int, default=200, help="random cases after the systematic ones")
    parser.add_argument("--random-only", action="store_true", help="skip the systematic cases")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    parser.add_argument("--only", default="", help="run only cases whose command line contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p2ptui-fuzz-cli-") as name:
        tmp = Path(name)
        try:
            files = make_inputs(tmp)
            cases = [] if args.random_only else structure_cases(files) + device_cases() + option_cases(files)
            cases += [] if args.random_only else fabric_cases(files) + environment_cases(files)
            cases += random_cases(files, args.random, args.seed)
            cases = [c for c in cases if args.only in c.describe()]
            began = time.perf_counter()
            results = []
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
                for result in pool.map(lambda c: run(c, tmp, args.timeout), cases):
                    results.append(result)
                    if result.kind != "ok":  # as they come, for a long run
                        print(
                            f"{result.kind} (exit {result.code}): {result.case.describe()}", file=sys.stderr, flush=True
                        )
                    if len(results) % 200 == 0:
                        print(f"... {len(results)} of {len(cases)} cases", file=sys.stderr, flush=True)
        finally:
            for path in (tmp / "ro", tmp / "closed-dir"):
                if path.exists():
                    os.chmod(path, 0o755)
    return report(results, time.perf_counter() - began, args.seed)


def report(results: list[Result], seconds: float, seed: int) -> int:
    by_command: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in results:
        by_command[command_of(r.case)][r.kind] += 1
    kinds = ["ok", "traceback", "status", "hang", "silent", "json"]
    for command, counts in sorted(by_command.items()):
        print(f"{command:<14} {sum(counts.values()):>5} cases  " + "  ".join(f"{k} {counts[k]:>4}" for k in kinds))
    total = sum(by_command.values(), collections.Counter())
    print(
        f"{'all':<14} {len(results):>5} cases  "
        + "  ".join(f"{k} {total[k]:>4}" for k in kinds)
        + f"  ({seconds:.0f} s, seed {seed})"
    )
    bad = [r for r in results if r.kind != "ok"]
    for r in bad:
        print(f"\n--- {r.kind} (exit {r.code}, {r.seconds:.1f} s): {r.case.describe()}")
        print(("stderr: " + r.err.strip()[-SHOW_OUTPUT:]) if r.err.strip() else "stderr: (empty)")
        if r.kind == "json":
            print("stdout: " + r.out[:SHOW_OUTPUT])
    print(f"\nbudget: 0 failures; measured {len(bad)}: {'met' if not bad else 'MISSED'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
