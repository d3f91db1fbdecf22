import pytest

from p2ptui.fabric.bdf import BDF, format_bus, parse_bus
from p2ptui.fabric.units import format_size, human_size, parse_bandwidth, parse_size


def test_bdf_parse_and_print():
    assert str(BDF.parse("03:00.0")) == "0000:03:00.0"
    assert str(BDF.parse("0000:c1:1f.7")) == "0000:c1:1f.7"
    # 32-bit domains (VMD, Hyper-V, some KVM guests) keep all their digits.
    wide = BDF.parse("10000:00:04.0")
    assert wide.domain == 0x10000 and str(wide) == "10000:00:04.0"
    assert BDF.parse("03:00.0", default_domain=5).domain == 5
    assert BDF.parse("0000:03:00.0").short() == "03:00.0"
    assert BDF(0x10, 3, 0, 0).short() == "0010:03:00.0"


@pytest.mark.parametrize(
    "text", ["3:0.8", "0000:03:00", "0000:100:00.0", "00:20.0", "zz:00.0", "", "0000:03:00.0 "[:-2]]
)
def test_bdf_rejects_malformed(text):
    with pytest.raises(ValueError):
        BDF.parse(text)


def test_bdf_order_is_bus_order():
    addrs = ["0000:80:00.0", "0000:03:00.1", "0000:03:00.0", "0001:00:00.0", "0000:03:01.0"]
    assert [str(b) for b in sorted(BDF.parse(a) for a in addrs)] == [
        "0000:03:00.0",
        "0000:03:00.1",
        "0000:03:01.0",
        "0000:80:00.0",
        "0001:00:00.0",
    ]
    assert BDF.parse("00:01.2").devfn == (1 << 3) | 2


def test_bus_parse():
    assert parse_bus("0000:80") == (0, 0x80)
    assert parse_bus("17") == (0, 0x17)
    assert format_bus(0x10000, 0) == "10000:00"
    with pytest.raises(ValueError):
        parse_bus("0000:800")


@pytest.mark.parametrize(
    "text, size",
    [("256MiB", 256 << 20), ("4k", 4096), ("1 GB", 10**9), ("1.5GiB", 3 << 29), (512, 512), ("0", 0), ("2T", 2 << 40)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["-1", "12 parsecs", "0.5", "MiB", True, "1e400", "nan"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_size_round_trips():
    for size in (0, 1, 4096, 256 << 20, (256 << 20) + 1, 3 << 40, 10**9):
        assert parse_size(format_size(size)) == size
    assert format_size(256 << 20) == "256 MiB"
    assert human_size(1536 << 20) == "1.5 GiB"


def test_parse_bandwidth():
    assert parse_bandwidth(7.1) == 7.1
    assert parse_bandwidth("7.1 GB/s") == 7.1
    assert parse_bandwidth("900 MB/s") == pytest.approx(0.9)
    assert parse_bandwidth("100 Gbit/s") == pytest.approx(12.5)
    for bad in ("fast", "-3", "7 furlongs"):
        with pytest.raises(ValueError):
            parse_bandwidth(bad)
