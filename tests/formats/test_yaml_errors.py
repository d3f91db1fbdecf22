"""Bad fabric files: every problem reported as file:line:column with a hint, at the API and at the CLI, and never a
traceback, whatever the input.

Cases mark the line the problem must be reported on with ``# <-``; the tests read the expected line from the text,
so the YAML and the expectation cannot drift apart.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2ptui.cli.main import main
from p2ptui.errors import Diagnostic, InputError
from p2ptui.fabric import BDF, DeviceKind, Fabric, IommuMode
from p2ptui.formats import load_fabric, loads_fabric, yaml_load

MARK = "# <-"

# A small valid fabric with a place for a problem in a deeply nested device ({extra} at the NVMe drive).
NESTED = """\
name: nested
host: {{iommu: off}}
root_complexes:
  - bus: 0000:00
    devices:
      - bdf: 00:00.0
        kind: host_bridge
      - bdf: 00:01.0
        kind: root_port
        children:
          - bdf: 01:00.0
            kind: switch_upstream
            children:
              - bdf: 02:00.0
                kind: switch_downstream
                acs: {{cap: [SV, RR, CR, UF], ctrl: [RR]}}
                children:
                  - bdf: 03:00.0
                    kind: nvme
                    link: gen3 x4
{extra}
"""
AT = " " * 20  # indentation of the drive's keys


def nested(*lines: str, sibling: tuple[str, ...] = ()) -> str:
    """NESTED with ``lines`` added to the NVMe drive, and optionally a sibling function after it."""
    extra = [AT + line for line in lines]
    if sibling:
        extra += [AT[:-2] + "- " + sibling[0]] + [AT + line for line in sibling[1:]]
    return NESTED.format(extra="\n".join(extra))


def marked_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]


def problems(text: str, filename: str = "case.yaml") -> list[Diagnostic]:
    with pytest.raises(InputError) as info:
        loads_fabric(text, filename)
    return info.value.diagnostics


# (id, YAML with the offending line marked, message pattern, hint pattern)
CASES = [
    (
        "unknown-key",
        nested(f"prodcut: NoLoad  {MARK}"),
        r"unknown key 'prodcut' in a device",
        r"did you mean 'product'\?",
    ),
    (
        "malformed-bdf",
        NESTED.format(extra="").replace("- bdf: 03:00.0", f"- bdf: 03:0g.0  {MARK}"),
        r"bdf: malformed PCI address '03:0g.0'",
        r"expected \[DDDD:\]BB:DD\.F",
    ),
    (
        "duplicate-bdf",
        nested(sibling=(f"bdf: 03:00.0  {MARK}", "kind: nic")),
        r"duplicate PCI address 0000:03:00\.0",
        r"first used at line 18",
    ),
    (
        "child-under-endpoint",
        nested(f"children:  {MARK}", "  - bdf: 04:00.0"),
        r"0000:03:00\.0 \(NVMe controller\) has no secondary bus for children",
        "root ports, switch ports",
    ),
    (
        "vf-without-pf",
        nested(sibling=("bdf: 03:00.1", f"physfn: 03:00.5  {MARK}")),
        r"VF 0000:03:00\.1 names physical function 0000:03:00\.5, which is not in the fabric",
        "'vfs'",
    ),
    (
        "available-over-size",
        nested(f"p2pmem: {{size: 1MiB, available: 2MiB}}  {MARK}"),
        r"p2pmem available \(2 MiB\) exceeds its size \(1 MiB\)",
        "available cannot exceed size",
    ),
    ("negative-size", nested(f"p2pmem: -256MiB  {MARK}"), r"p2pmem size: negative size '-256MiB'", ""),
    ("absurd-size", nested(f"p2pmem: {{size: 65TiB}}  {MARK}"), r"p2pmem size 65TiB is absurd", r"64 TiB"),
    (
        "unknown-kind",
        NESTED.format(extra="").replace("kind: nvme", f"kind: nvem  {MARK}"),
        r"unknown device kind 'nvem'",
        r"did you mean 'nvme'\?",
    ),
    (
        "unknown-gen",
        NESTED.format(extra="").replace("link: gen3 x4", f"link: gen9 x4  {MARK}"),
        r"unknown PCIe link generation gen9",
        r"gen1 to gen7",
    ),
    (
        "unknown-gen-mapping",
        NESTED.format(extra="").replace("link: gen3 x4", f"link: {{gen: 9, width: 4}}  {MARK}"),
        r"unknown PCIe link generation gen9",
        "",
    ),
    (
        "bad-width",
        NESTED.format(extra="").replace("link: gen3 x4", f"link: gen3 x3  {MARK}"),
        r"link width x3 is not a PCIe width",
        r"x1, x2, x4",
    ),
    ("yaml-syntax", nested(f"product: NoLoad: CSP  {MARK}"), r"YAML syntax error: mapping values are not allowed", ""),
    (
        "duplicate-key",
        nested("driver: nvme", f"driver: nvme  {MARK}"),
        r"duplicate key 'driver' in a device",
        r"first given at line 21",
    ),
    (
        "wrong-root-bus",
        NESTED.format(extra="").replace("- bdf: 00:01.0", f"- bdf: 05:01.0  {MARK}"),
        r"0000:05:01\.0 is listed under root bus 0000:00 but is on bus 0000:05",
        "bridge's children",
    ),
    (
        "bridge-children-on-two-buses",
        nested(sibling=(f"bdf: 04:00.0  {MARK}", "kind: gpu")),
        r"0000:04:00\.0 is below bridge 0000:02:00\.0, whose secondary bus is 0000:03",
        "one secondary bus",
    ),
    (
        "acs-ctrl-outside-cap",
        nested(f"acs: {{cap: [SV, UF], ctrl: [SV, RR]}}  {MARK}"),
        r"ACS ctrl sets RR, which the capability does not have",
        r"cap is \[SV, UF\]",
    ),
    ("acs-unknown-bit", nested(f"acs: {{cap: [SV, RRR]}}  {MARK}"), r"unknown ACS cap bit 'RRR'", "SV TB RR"),
    (
        "firmware-with-hardware-ctrl",
        nested(f"acs: {{cap: [SV], ctrl: [], firmware: [SV]}}  {MARK}"),
        r"'firmware' only goes with ctrl: kernel-default",
        "live register",
    ),
    (
        "vfs-on-a-bridge",
        NESTED.format(extra="").replace(
            "kind: switch_downstream", f"kind: switch_downstream\n{AT[:-4]}vfs: [{{bdf: 02:00.1}}]  {MARK}"
        ),
        r"0000:02:00\.0 \(switch downstream port\) cannot have VFs",
        "only endpoints",
    ),
    ("bad-ids", nested(f"id: 8086-2030  {MARK}"), r"id: malformed '8086-2030'", "8086:2030"),
    (
        "out-of-range-number",
        nested(f"iommu_group: 0x{'f' * 40}  {MARK}"),
        r"iommu_group: 0xf+… is out of range",
        "0 to 2147483647",
    ),
    (
        "iommu-mode",
        f"host: {{iommu: of}}  {MARK}\nroot_complexes: []\n",
        r"unknown IOMMU mode 'of'",
        "did you mean 'off'",
    ),
    (
        "duplicate-name",
        nested("name: drive", sibling=("bdf: 03:00.1", f"name: drive  {MARK}")),
        r"duplicate device name 'drive'",
        "first used at line 21",
    ),
    (
        "root-bus-twice",
        NESTED.format(extra="") + f"  - bus: 00  {MARK}\n",
        r"root bus 0000:00 is declared twice",
        "first at line 4",
    ),
    (
        "kind-in-wrong-place",
        NESTED.format(extra="").replace("kind: nvme", f"kind: root_port  {MARK}"),
        r"0000:03:00\.0 is a root port but sits below bridge 0000:02:00\.0",
        "root bus",
    ),
]


@pytest.mark.parametrize(("text", "message", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_is_reported_at_its_line_with_a_hint(text, message, hint):
    (expected_line,) = marked_lines(text)
    found = problems(text)
    assert len(found) == 1, [str(d) for d in found]
    (diag,) = found
    assert diag.location.file == "case.yaml"
    assert diag.location.line == expected_line, str(diag)
    assert diag.location.column is not None and diag.location.column >= 1
    assert re.search(message, diag.message), diag.message
    assert diag.hint and re.search(hint, diag.hint), diag.hint
    if expected_line > 3:  # nested problems point into the file, not at its start
        assert diag.location.line != 1


def test_nested_problem_points_at_the_offending_key_column():
    text = nested(f"numa_node: lots  {MARK}")
    (diag,) = problems(text)
    line = text.splitlines()[diag.location.line - 1]
    assert line[diag.location.column - 1 :].startswith("lots")
    assert "numa_node" in diag.message and "whole number" in diag.message


def test_every_problem_of_a_file_is_reported_in_one_run():
    text = nested(
        f"colour: blue  {MARK}",
        f"p2pmem: {{size: 1MiB, available: 2MiB}}  {MARK}",
        sibling=("bdf: 03:00.1", "kind: nic", f"physfn: 03:00.7  {MARK}"),
    )
    text = text.replace("kind: host_bridge", f"kind: hostbridge  {MARK}")
    text = text.replace("acs: {cap: [SV, RR, CR, UF], ctrl: [RR]}", f"acs: {{cap: [SV], ctrl: [RR]}}  {MARK}")
    text = text.replace("link: gen3 x4", f"link: gen9 x4  {MARK}")
    text += f"  - bus: 0000:80\n    devices:\n      - bdf: 81:00.0  {MARK}\n"
    found = problems(text)
    assert len(found) == 7, "\n".join(map(str, found))
    assert [d.location.line for d in found] == marked_lines(text) == [7, 16, 20, 21, 22, 25, 28]
    assert "unknown device kind 'hostbridge'" in found[0].message
    assert "0000:81:00.0 is listed under root bus 0000:80" in found[-1].message


def test_problems_below_a_broken_bridge_are_not_reported_twice():
    # The bridge's kind is wrong; its children are still read (their own typos reported) but not judged again.
    text = NESTED.format(extra="").replace("kind: switch_upstream", f"kind: swtich_upstream  {MARK}")
    (diag,) = problems(text)
    assert diag.location.line == marked_lines(text)[0]


# -- whole-file problems ------------------------------------------------------------------------------------------
WHOLE_FILE_CASES = [
    ("", r"file is empty", (1, 1)),
    ("# just a comment\n\n   # and another\n", r"file holds only comments", (1, 1)),
    ("- bus: 0000:00\n- bus: 0000:80\n", r"top level must be a mapping .* not a list", (1, 1)),
    ("just words\n", r"top level must be a mapping .* not the value 'just words'", (1, 1)),
    ("name: x\nroot_complexes: []\n---\nname: y\n", r"a second YAML document starts here", (3, 1)),
    ("name: x\nroot_complexes:\n\t- bus: 00\n", r"YAML syntax error", (3, 1)),
    ("name: \x01\x02\x03\n", r"character U\+0001 is not allowed in YAML text", (1, 7)),
    (b"name: Caf\xe9\nroot_complexes: []\n", r"not UTF-8 text \(byte 0xe9\)", (1, 10)),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", r"binary data \(a NUL byte\)", (1, 8)),
    ("[" * 5000 + "]" * 5000, r"nested more than 200 levels deep", (1, 201)),
    ("name: x\n", r"missing key 'root_complexes'", (1, 1)),
]
WHOLE_FILE_IDS = [
    "empty",
    "comments",
    "list",
    "scalar",
    "two-docs",
    "tab",
    "control-chars",
    "latin-1",
    "elf",
    "deep",
    "no-rc",
]


@pytest.mark.parametrize(("data", "message", "where"), WHOLE_FILE_CASES, ids=WHOLE_FILE_IDS)
def test_whole_file_problems(data, message, where):
    (diag,) = problems(data)
    assert re.search(message, diag.message), diag.message
    assert (diag.location.line, diag.location.column) == where


def test_random_binary_garbage_is_refused():
    garbage = random.Random(1234).randbytes(64 * 1024)
    (diag,) = problems(garbage)
    assert "binary data" in diag.message or "not UTF-8" in diag.message


def test_huge_file_is_refused_by_size_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    line = b"# padding to make a file no one wrote by hand " + b"x" * 53 + b"\n"
    with path.open("wb") as fh:
        fh.write(b"name: huge\nroot_complexes: []\n")
        fh.write(line * (30_000_000 // len(line)))
    assert path.stat().st_size > 29_000_000

    def no_reading(*args, **kwargs):
        raise AssertionError("the loader read a file it should have refused by its size")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    monkeypatch.setattr(yaml_load, "open", no_reading, raising=False)
    with pytest.raises(InputError) as info:
        load_fabric(path)
    (diag,) = info.value.diagnostics
    assert re.fullmatch(r"file is 30\.0 MB; fabric files are limited to 16 MiB", diag.message)
    assert diag.location.file == str(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_input_is_refused_without_reading():
    # A character device never ends: it is refused from its stat, before anything is read.
    with pytest.raises(InputError, match="^/dev/zero: is a character device"):
        load_fabric("/dev/zero")


def test_unreadable_paths():
    with pytest.raises(InputError, match="no such file or directory"):
        load_fabric("/nonexistent/fabric.yaml")
    with pytest.raises(InputError, match="^/: is a directory, not a file"):
        load_fabric("/")


# -- YAML 1.1 traps that must not bite ------------------------------------------------------------------------------
def test_unquoted_bdfs_numbers_and_words_keep_their_text():
    text = textwrap.dedent("""\
        name: 00:01.0
        host: {iommu: off, cpu: 'amd:0x19'}
        root_complexes:
          - bus: 00
            devices:
              - bdf: 00:01.0
                kind: root_port
                children:
                  - bdf: 01:00.0
                    class: 010802
                    product: 0x10
                    driver: off
                    numa_node: 010
                    revision: 0x0a
                    name: null
        """)
    fabric = loads_fabric(text)
    assert fabric.name == "00:01.0"
    assert fabric.host.iommu is IommuMode.OFF and (fabric.host.cpu_vendor, fabric.host.cpu_family) == ("amd", 0x19)
    assert [d.bdf for d in fabric] == [BDF(0, 0, 1, 0), BDF(0, 1, 0, 0)]
    drive = fabric.device(BDF(0, 1, 0, 0))
    assert drive.kind is DeviceKind.NVME  # from the class code, read as hex text
    assert (drive.class_code, drive.product, drive.driver, drive.numa_node, drive.revision) == (
        0x010802,
        "0x10",
        "off",
        10,
        0x0A,
    )
    assert drive.name == "nvme0"  # `name: null` means no name, so the default


# -- the CLI: one line per problem, exit 2, no traceback --------------------------------------------------------
LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<message>.+)$")


@pytest.mark.parametrize("text", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_validate_prints_file_line_column(tmp_path, capsys, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1
    match = LINE_RE.match(lines[0])
    assert match, lines[0]
    assert match["file"] == str(path)
    assert int(match["line"]) == marked_lines(text)[0]


CLI_WHOLE_FILE = list(zip(WHOLE_FILE_CASES, WHOLE_FILE_IDS, strict=False))


@pytest.mark.parametrize(
    ("data", "message", "where"), [c for c, _ in CLI_WHOLE_FILE], ids=[n for _, n in CLI_WHOLE_FILE]
)
def test_cli_validate_whole_file_problems(tmp_path, capsys, data, message, where):
    path = tmp_path / "bad.yaml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    (line,) = err.splitlines()
    match = LINE_RE.match(line)
    assert match and match["file"] == str(path), line
    assert (int(match["line"]), int(match["col"])) == where
    assert re.search(message, match["message"])


def test_cli_validate_huge_file(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(30_000_000)  # sparse: only the size matters
    assert main(["validate", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        line == f"{path}:1:1: error: file is 30.0 MB; fabric files are limited to 16 MiB "
        "(is this really a fabric description?)"
    )


def test_cli_reports_several_problems_one_per_line(tmp_path, capsys):
    path = tmp_path / "several.yaml"
    path.write_text(nested("colour: red", "kind: nvme") + "  - bus: zz\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [int(LINE_RE.match(line)["line"]) for line in lines] == [21, 22, 23]
    assert "unknown key 'colour'" in lines[0] and "duplicate key 'kind'" in lines[1] and "malformed PCI bus" in lines[2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (random.Random(7).randbytes(4096), r"(binary data|not UTF-8|not allowed)"),
        (None, r"file is 30\.0 MB; fabric files are limited to 16 MiB"),
        (b"root_complexes:\n  - bus: 00\n    devices: [{bdf: 00:00.0, p2pmem: 1e400}]\n", r"not a finite number"),
    ],
    ids=["garbage", "huge", "overflow"],
)
def test_cli_process_never_shows_a_traceback(tmp_path, content, message):
    path = tmp_path / "input.yaml"
    if content is None:
        with path.open("wb") as fh:  # sparse: the size is what the loader checks first
            fh.truncate(30_000_000)
    else:
        path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "p2ptui", "validate", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert all(line.startswith(f"{path}") for line in result.stderr.splitlines()), result.stderr


# -- nothing but a Fabric or an InputError, whatever the input ----------------------------------------------------
FULL = """\
format: p2ptui-fabric/1
name: fuzz seed
description: >
  Everything the format has, for mutation.
host:
  cpu: {vendor: amd, family: 0x19, model: EPYC 9654}
  kernel: 6.8.0
  cmdline: iommu=pt
  iommu: passthrough
  memory_bandwidth: 460.8 GB/s
notes: [lspci -vvv was run without root]
root_complexes:
  - bus: 0000:00
    host_bridge: pci0000:00
    numa_node: 0
    p2p: {read: 12, write: 24 GB/s}
    devices:
      - {bdf: 00:00.0, kind: host_bridge, id: 1022:14a4, class: 0x060000}
      - bdf: 00:01.1
        id: 1022:14ab
        link: {gen: 4, width: 8, max_gen: 5, max_width: 16, mps: 512}
        acs: {cap: [SV, TB, RR, CR, UF, EC, DT], ctrl: kernel-default, firmware: [SV]}
        children:
          - bdf: 01:00.0
            name: mlx5_0
            id: 15b3:101d
            class: 0x020000
            link: gen4 x16
            p2pmem: {size: 1GiB, available: 512MiB, published: false, allocate: false}
            vfs:
              - {bdf: 01:00.1, name: mlx5_vf0}
              - {bdf: 02:00.0}
          - {bdf: 01:00.2, kind: nvme, physfn: 01:00.0}
  - bus: 10000:40
    devices:
      - bdf: 40:00.0
        kind: root_port
        acs: unknown
        children:
          - {bdf: 41:00.0, kind: switch_upstream, acs: none, children: [{bdf: 42:01.0, children: []}]}
"""


def test_fuzz_seed_is_valid():
    fabric = loads_fabric(FULL)
    assert len(fabric) == 9
    assert fabric.find("mlx5_vf0").physfn == BDF(0, 1, 0, 0)
    assert fabric.device(BDF(0x10000, 0x42, 1, 0)).kind is DeviceKind.SWITCH_DOWNSTREAM


def _loads_or_input_error(data: str | bytes) -> None:
    try:
        assert isinstance(loads_fabric(data, "fuzz.yaml"), Fabric)
    except InputError as exc:
        lines = (data if isinstance(data, str) else data.decode("utf-8", "replace")).count("\n") + 2
        for diag in exc.diagnostics:
            assert diag.location is not None and diag.location.file == "fuzz.yaml", str(diag)
            assert diag.location.line is None or 1 <= diag.location.line <= lines, str(diag)
            assert diag.message


YAML_BITS = list("{}[]:-,'\"&*!|>?#% \n\tab01x.") + ["bdf: ", "kind: ", "00:00.0", "gen3 x4", "root_complexes:", "\n  "]
YAMLISH = st.lists(st.sampled_from(YAML_BITS), max_size=60).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.binary(), YAMLISH))
def test_random_input_gives_a_fabric_or_an_input_error(data):
    _loads_or_input_error(data)


@st.composite
def mutations(draw) -> str:
    """FULL with a few edits of the kinds people and disks make: lost or doubled lines, swapped or stray
    characters, wrong indentation, values replaced by others that are valid elsewhere."""
    text = FULL
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(text) - 2))
        edit = draw(st.sampled_from(["delete", "duplicate", "indent", "swap", "insert", "drop", "replace"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "indent":
            lines[i] = draw(st.sampled_from(["  ", " ", "- ", "\t"])) + lines[i]
        if edit in ("delete", "duplicate", "indent"):
            text = "\n".join(lines)
        elif edit == "swap":
            text = text[:j] + text[j + 1] + text[j] + text[j + 2 :]
        elif edit == "insert":
            text = text[:j] + draw(st.sampled_from(list(":-[]{},#&*!|>'\"?\n 9") + ["null", "*a", "&a "])) + text[j:]
        elif edit == "drop":
            text = text[:j] + text[j + 1 :]
        else:
            old = draw(st.sampled_from(["gen4", "x16", "00.0", "1GiB", "SV", "root_port", "children", "vfs", "kind"]))
            new = draw(st.sampled_from(["gen9", "x3", "00.9", "-1", "ZZ", "nvme", "physfn", "[]", "{}", "~", "0x1f"]))
            text = text.replace(old, new, 1)
    return text


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_fabric_gives_a_fabric_or_an_input_error(text):
    _loads_or_input_error(text)


def test_the_format_documents_error_example(tmp_path, capsys):
    doc = (Path(__file__).parents[2] / "docs" / "fabric-format.md").read_text(encoding="utf-8")
    bad = re.findall(r"```yaml\n(.*?)```", doc, re.S)[2]
    printed = doc.split("reports all of them (exit code 2):\n\n```\n", 1)[1].split("```", 1)[0]
    (tmp_path / "bad.yaml").write_text(bad, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert main(["validate", "bad.yaml"]) == 2
    assert capsys.readouterr().err == printed


def test_host_kernel_must_be_a_kernel_release(tmp_path, capsys):
    body = NESTED.format(extra="").replace("host: {iommu: off}\n", "host:\n  iommu: off\n  kernel: {kernel}\n")
    bad = body.replace("{kernel}", "banana")
    (tmp_path / "bad.yaml").write_text(bad, encoding="utf-8")
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    (line,) = err.splitlines()
    # At the key's line, the column of its value; the hint lists what is accepted.
    assert line.startswith(f"{tmp_path / 'bad.yaml'}:4:11: error: kernel: 'banana' is not a kernel version (expected")
    assert "uname -r" in line and "6.8.0-45-generic" in line and "latest" in line
    (diag,) = problems(bad)
    assert (diag.location.line, diag.location.column) == (4, 11)
    # Every uname -r form loads, pre-P2PDMA releases included (they are real machines), and is kept as written.
    for release in (
        "6.8.0-45-generic",
        "5.14.0-362.el9.x86_64",
        "6.1.0-56-amd64",
        "4.20.0",
        "'7.1'",
        "latest",
        "6.12.23+",
        "3.10.0-1160.el7.x86_64",
    ):
        assert loads_fabric(body.replace("{kernel}", release)).host.kernel == release.strip("'")
