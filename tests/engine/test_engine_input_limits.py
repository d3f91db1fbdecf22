"""Transfer inputs: one set of bounds for the copy CLI, plans and the Python API (engine/limits.py), plans read like
fabric files (yaml_text: binary, encoding, size, nesting, syntax), and every bad value an exit-2 message naming its
flag or its file:line:column - never a traceback."""

import pytest
from cli_run import run_cli
from copy_argv import copy_argv
from engine_fabrics import switch_fabric

from p2ptui.engine.limits import MAX_CHUNK, MAX_SIZE, MAX_START, iommu_page_problem, parse_device_rate
from p2ptui.engine.plan import MAX_PLAN_BYTES, load_plan, loads_plan
from p2ptui.engine.resources import DeviceRate, RcCap, SimConfig
from p2ptui.engine.transfer import TransferSpec
from p2ptui.errors import InputError

COPY = {"src": "nvme0", "dst": "nvme1"}


def cli(capsys, **options) -> tuple[int, str, str]:
    """``p2ptui copy nvmeof-target`` with ``options`` (as copy_argv spells them), in-process."""
    return run_cli(capsys, *copy_argv(**options))


def plan_file(tmp_path, text: str | bytes, name: str = "plan.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def plan_errors(path: str) -> list[str]:
    with pytest.raises(InputError) as err:
        load_plan(path, switch_fabric())
    return [str(d) for d in err.value.diagnostics]


# -- defect 4: --device-rate -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "item, words",
    [
        ("nvme0=0", "read rate must be a positive number of GB/s, not 0"),
        ("nvme0=-1", "read rate must be a positive number of GB/s, not -1"),
        ("nvme0=3,0", "write rate must be a positive number of GB/s, not 0"),
        ("nvme0", "expected DEV=READ[,WRITE]"),
        ("nvme0=", "expected DEV=READ[,WRITE]"),
        ("=3", "expected DEV=READ[,WRITE]"),
        ("nvme0=1,2,3", "expected DEV=READ[,WRITE]"),
        ("nvme0=fast", "'fast' is not a rate"),
        ("nvme0=.inf", "must be a finite number"),
        ("nvme0=5e6", "at most 10 TB/s"),
    ],
)
def test_bad_device_rates_are_input_errors_naming_the_flag(capsys, item, words):
    code, out, err = cli(capsys, **COPY, size="1GiB", device_rate=item)
    assert code == 2 and out == ""
    assert f"--device-rate {item!r}" in err and words in err


def test_a_device_rate_is_used(capsys):
    import json

    code, out, _ = cli(capsys, **COPY, size="1GB", device_rate="nvme0=0.5", json=True)
    assert code == 0
    assert json.loads(out)["transfers"][0]["bytes_per_s"] == pytest.approx(0.5e9, rel=1e-9)
    assert parse_device_rate("nvme0=,2") == ("nvme0", None, 2.0)


def test_the_python_api_refuses_rates_the_solver_cannot_use():
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e6):
        with pytest.raises(ValueError, match="nvme0 read rate"):
            SimConfig(device_rates={"nvme0": DeviceRate(read=bad)})
        with pytest.raises(ValueError, match="P2P write cap"):
            SimConfig(rc_caps={"pci0000:00": RcCap(write=bad)})
    with pytest.raises(ValueError, match="memory bandwidth"):
        SimConfig(memory_bandwidth=0.0)


# -- defect 12: one threads bound ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "threads, message",
    [
        (0, "threads must be at least 1, not 0"),
        (1025, "threads must be at most 1024, not 1025"),
        (100000, "threads must be at most 1024, not 100000"),
    ],
)
def test_threads_bound_is_the_same_for_the_cli_and_plans(capsys, tmp_path, threads, message):
    code, _, err = cli(capsys, **COPY, size="1GiB", threads=threads)
    assert code == 2 and f"--threads: {message}" in err
    line = f"  - {{src: nvme0, dst: nvme1, size: 1GiB, threads: {threads}}}"
    path = plan_file(tmp_path, f"transfers:\n{line}\n")
    code, _, err = cli(capsys, plan=path)
    column = line.index("threads: ") + len("threads: ") + 1
    assert code == 2 and f"{path}:2:{column}: error: {message}" in err


def test_1024_threads_run(capsys):
    assert cli(capsys, **COPY, size="1GiB", threads=1024, no_progress=True)[0] == 0


# -- defect 13: upper bounds and finite numbers ----------------------------------------------------------------------
def test_spec_bounds_are_inclusive_and_say_why():
    def problems(**kw):
        values = {"src": "nvme0", "dst": "nvme1", "size": 1 << 30} | kw
        return TransferSpec(**values).problems()

    assert problems(size=MAX_SIZE, chunk=MAX_CHUNK, threads=1024, start=MAX_START) == []
    [size] = problems(size=MAX_SIZE + 1)
    assert "more than 1 PiB" in size and "beyond any device" in size
    [chunk] = problems(chunk=MAX_CHUNK + 1)
    assert "more than 1 GiB" in chunk
    [start] = problems(start=MAX_START + 1)
    assert "more than a day" in start and "real engine would wait" in start
    for bad in (float("nan"), float("inf")):
        assert problems(start=bad) == [f"start time {bad} is not a finite number of seconds"]
    assert problems(start=-1.0) == ["start time must not be negative, not -1 s"]
    assert "window" in problems(window=MAX_SIZE + 1)[0]


def test_cli_size_beyond_a_pib_is_refused(capsys):
    code, out, err = cli(capsys, **COPY, size="1e40", no_progress=True)
    assert code == 2 and out == ""
    assert "--size: size 1e+40 B is more than 1 PiB" in err
    code, _, err = cli(capsys, **COPY, size="1GiB", chunk="2GiB")
    assert code == 2 and "--chunk: chunk 2 GiB is more than 1 GiB" in err
    code, _, err = cli(capsys, **COPY, size="1GiB", efficiency="nan")
    assert code == 2 and "--efficiency: link efficiency must be in (0, 1], not nan" in err


@pytest.mark.parametrize(
    "value, words",
    [
        ("size: 1e40", "size 1e+40 B is more than 1 PiB"),
        ("start: 1e300", "start time 1e+300 s is more than a day away"),
        ("start: 100000", "start time 100000 s is more than a day away"),
        ("start: .inf", "start (seconds): '.inf' is not a finite number"),
        ("start: .nan", "start (seconds): '.nan' is not a finite number"),
        ("start: -5", "start time must not be negative"),
        ("chunk: 2GiB", "chunk 2 GiB is more than 1 GiB"),
        ("window: 2PiB", "window 2 PiB is more than 1 PiB"),
    ],
)
def test_plan_values_beyond_the_bounds_point_at_their_key(tmp_path, value, words):
    key = value.split(":")[0]
    fields = value if key == "size" else f"size: 1GiB, {value}"
    line = f"  - {{src: ep1, dst: ep2, {fields}}}\n"
    path = plan_file(tmp_path, "transfers:\n" + line)
    [error] = plan_errors(path)
    column = line.index(value.split(": ")[1], line.index(key + ":")) + 1
    assert error.startswith(f"{path}:2:{column}: ") and words in error


def test_event_times_are_finite_and_bounded(tmp_path):
    base = "transfers:\n  - {src: ep1, dst: ep2, size: 1GiB}\nevents:\n"
    [nan] = plan_errors(plan_file(tmp_path, base + "  - {at: .nan, unplug: ep1}\n", "nan.yaml"))
    assert ":4:10: " in nan and "'.nan' is not a finite number" in nan
    [late] = plan_errors(plan_file(tmp_path, base + "  - {at: 1e9, unplug: ep1}\n", "late.yaml"))
    assert "event time 1e+09 s is more than a day away" in late


def test_a_real_plan_that_would_wait_27_hours_is_refused_before_anything_runs(capsys, tmp_path):
    path = plan_file(tmp_path, "transfers:\n  - {src: nvme0, dst: nvme1, size: 1MiB, start: 100000}\n")
    code, out, err = cli(capsys, plan=path, engine="real")
    assert code == 2 and out == "" and "more than a day away" in err


def test_a_real_plan_announces_delayed_starts(capsys, tmp_path):
    path = plan_file(tmp_path, "transfers:\n  - {name: later, src: nvme0, dst: nvme1, size: 1MiB, start: 0.2}\n")
    code, _, err = cli(capsys, plan=path, engine="real", no_progress=True)
    assert code == 0 and "[1] later: starts at t=0.2 s" in err


# -- defect 21: plan messages ----------------------------------------------------------------------------------------
def test_a_top_level_list_is_explained_at_1_1(tmp_path):
    [error] = plan_errors(plan_file(tmp_path, "- {src: ep1, dst: ep2, size: 1GiB}\n"))
    assert ":1:1: a plan is a mapping with transfers: " in error and "not a list" in error
    [error] = plan_errors(plan_file(tmp_path, "just words\n"))
    assert "a plan is a mapping with transfers:" in error and "not a single value" in error


@pytest.mark.parametrize(
    "page, ok",
    [
        ("3", False),
        ("3KiB", False),
        ("0", False),
        ("2GiB", False),
        ("4KiB", True),
        ("16KiB", True),
        ("2MiB", True),
        ("1GiB", True),
    ],
)
def test_iommu_page_sizes_are_powers_of_two_from_4k_to_1g(tmp_path, page, ok):
    text = f"sim: {{iommu_page_size: {page}}}\ntransfers:\n  - {{src: ep1, dst: host, size: 1GiB}}\n"
    path = plan_file(tmp_path, text)
    if ok:
        plan = load_plan(path, switch_fabric())
        assert iommu_page_problem(plan.config.iommu_page_size) is None
    else:
        [error] = plan_errors(path)
        assert ":1:24: IOMMU page size" in error and "is not a power of two from 4 KiB to 1 GiB" in error
        with pytest.raises(ValueError, match="power of two"):
            SimConfig(iommu_page_size=3)


# -- defect 5: plans are read like fabric files ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, where, words",
    [
        (b"transfers:\n  - {src: ep1, dst: \xff\xfe}\n", ":2:21: ", "not UTF-8 text (byte 0xff), so not a YAML plan"),
        (b"\xc3(: x\n", ":1:1: ", "not UTF-8 text"),
        (b"transfers: []\n\x00\x01binary", ":2:1: ", "binary data (a NUL byte), not a YAML plan"),
        (b"transfers:\n  - {name: a\x0eb, src: ep1}\n", ":2:13: ", "character U+000E is not allowed in YAML text"),
        (b"transfers: [\n", ":2:1: ", "YAML syntax error"),
        (b"transfers:\n\t- {src: ep1}\n", ":2:1: ", "tabs"),
        (b"transfers: " + b"[" * 300 + b"]" * 300 + b"\n", ":1:", "nested more than 200 levels deep"),
    ],
)
def test_bad_plan_files_get_positions_not_tracebacks(capsys, tmp_path, data, where, words):
    path = plan_file(tmp_path, data)
    [error] = plan_errors(path)
    assert error.startswith(path + where) and words in error
    code, out, err = cli(capsys, plan=path)
    assert code == 2 and out == "" and words in err


def test_random_bytes_are_refused(capsys, tmp_path):
    import random

    data = random.Random(5).randbytes(4096)
    code, _, err = cli(capsys, plan=plan_file(tmp_path, data))
    assert code == 2 and ("binary data" in err or "not UTF-8" in err)


def test_a_huge_plan_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.write(b"transfers:\n")
        f.truncate(MAX_PLAN_BYTES + 1)
    [error] = plan_errors(str(path))
    assert error.startswith(f"{path}:1:1: ") and "plan files are limited to 4 MiB" in error
    with pytest.raises(InputError, match="limited to 4 MiB"):
        loads_plan("#" * (MAX_PLAN_BYTES + 1), switch_fabric())


def test_a_missing_plan_names_the_file(capsys, tmp_path):
    missing = str(tmp_path / "nope.yaml")
    code, _, err = cli(capsys, plan=missing)
    assert code == 2 and f"{missing}: error: cannot read file" in err
