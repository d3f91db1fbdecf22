"""The final line of a copy, in the shape of p2pmem-test's report_transfer_rate, at ordinary and absurd scales."""

import pytest

from p2ptui.engine.report import transfer_line
from p2ptui.present.transfer import efficiency_text

GiB = 1 << 30


@pytest.mark.parametrize(
    ("nbytes", "seconds", "line"),
    [
        (GiB, 0.3559, "  1.07GB in 355.9 ms     3.02GB/s"),
        (GiB, 12.5, "  1.07GB in 12.5   s    85.90MB/s"),
        (4096, 0.000012, "  4.10kB in 12.0  us   341.33MB/s"),
        (0, 1.0, "  0.00B in 1.0    s     0.00B/s"),
        (10**9, 0, "  1.00GB in 0.0   s      infB/s"),
    ],
)
def test_ordinary_copies_read_like_p2pmem_test(nbytes, seconds, line):
    assert transfer_line(nbytes, seconds) == line


@pytest.mark.parametrize(
    ("nbytes", "seconds", "line"),
    [
        # --efficiency 1e-300 on the simulator: the link's time is astronomical, its rate below any prefix.
        (GiB, 1e300, "  1.07GB in 1e+300 s   1.07e-291B/s"),
        (5 * 10**5, 2e6, "500.00kB in 2e+06  s   250.00mB/s"),
        (1000, 2e-13, "  1.00kB in 2e-13  s     5.00PB/s"),
    ],
)
def test_numbers_beyond_the_prefixes_keep_the_shape_in_scientific_notation(nbytes, seconds, line):
    assert transfer_line(nbytes, seconds) == line
    assert len(transfer_line(nbytes, seconds)) < 60  # never hundreds of digits


def test_the_link_efficiency_beside_it_reads_at_any_scale():
    assert [efficiency_text(e) for e in (0.9, 1.0, 0.01, 1e-300)] == ["0.90", "1.00", "0.01", "1e-300"]
