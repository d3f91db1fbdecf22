"""Protocol bounds of posted writes and reads per generation, worked out by hand from the TLP overheads (24-B MWr,
20-B CplD, SKP), against fabric/pcie.py."""

import pytest

from p2ptui.fabric import pcie

# gen: (raw, write MPS128, MPS256, MPS512, read 64 B completions, read 256 B completions), x16, GB/s
TABLE_1_4 = {
    1: (4.00, 3.36, 3.65, 3.81, 3.04, 3.70),
    2: (8.00, 6.72, 7.30, 7.62, 6.08, 7.40),
    3: (15.75, 13.23, 14.37, 15.01, 11.97, 14.57),
    4: (31.51, 26.46, 28.73, 30.02, 23.94, 29.15),
    5: (63.02, 52.93, 57.46, 60.04, 47.89, 58.30),
    6: (118.0, 104.9, 111.1, 114.4, 99.4, 112.7),
}


@pytest.mark.parametrize("gen", sorted(TABLE_1_4))
def test_table_1_4(gen):
    raw, w128, w256, w512, r64, r256 = TABLE_1_4[gen]
    # The spec prints Gen1-5 to two decimals and Gen6 to one; match to the precision printed.
    tol = 0.005 if gen < 6 else 0.05
    assert pcie.raw_gbps(gen, 16) == pytest.approx(raw, abs=tol)
    assert pcie.write_gbps(gen, 16, 128) == pytest.approx(w128, abs=tol)
    assert pcie.write_gbps(gen, 16, 256) == pytest.approx(w256, abs=tol)
    assert pcie.write_gbps(gen, 16, 512) == pytest.approx(w512, abs=tol)
    assert pcie.read_gbps(gen, 16, completion=64) == pytest.approx(r64, abs=tol)
    assert pcie.read_gbps(gen, 16, completion=256) == pytest.approx(r256, abs=tol)


def test_narrow_links_scale_linearly():
    # "Gen3 x8 MPS256 = 7.18, Gen3 x4 = 3.59 GB/s"
    assert pcie.write_gbps(3, 8, 256) == pytest.approx(7.18, abs=0.005)
    assert pcie.write_gbps(3, 4, 256) == pytest.approx(3.59, abs=0.005)


def test_small_transfers_pay_the_header_tax():
    # A 64-byte write carries 64 of every 88 bytes on the wire, whatever the MPS.
    assert pcie.write_gbps(3, 16, 256, transfer=64) == pytest.approx(
        pcie.raw_gbps(3, 16) * (1 - pcie.SKP_OVERHEAD) * 64 / 88
    )
    assert pcie.write_gbps(3, 16, 256, transfer=4096) == pcie.write_gbps(3, 16, 256)


def test_read_tag_bound():
    # "With 32 tags (5-bit), MRRS 512 B and 1 µs round trip you get at most 16.4 GB/s; with 2 µs, 8.2 GB/s."
    assert pcie.read_gbps(5, 16, 256, mrrs=512, tags=32, rtt_us=1.0) == pytest.approx(16.384)
    assert pcie.read_gbps(3, 16, 256, mrrs=512, tags=32, rtt_us=2.0) == pytest.approx(8.192)
    # With plenty of tags the link is the bound again.
    assert pcie.read_gbps(3, 16, 256, tags=256, rtt_us=1.0) == pcie.read_gbps(3, 16, 256)


def test_read_request_lane_load():
    assert pcie.read_request_load(3, 512) == pytest.approx(24 / 512)
    assert pcie.read_request_load(6, 512) == pytest.approx(16 / 512)


def test_lane_rates_and_generation_lookup():
    assert pcie.generation(3).lane_gbps == pytest.approx(0.984615, abs=1e-6)
    assert pcie.gen_from_rate(16.0) == 4
    assert pcie.gen_from_rate(2.5) == 1
    with pytest.raises(ValueError, match="not a PCIe link rate"):
        pcie.gen_from_rate(10.0)
    with pytest.raises(ValueError, match="unknown PCIe generation"):
        pcie.raw_gbps(9, 16)
