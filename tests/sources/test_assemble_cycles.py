"""Parents that come round in a cycle (two bridges each claiming the other's bus, as a damaged `lspci -vvv` capture
can say) load in time linear in the file: the entries are set aside with a note, and the functions below the cycle
go with them. Ordering drafts by depth walked the whole file for every function below the cycle: 10,000 of them
took 9.3 s of CPU; now 0.23 s."""

from __future__ import annotations

import time

from p2ptui.errors import Location
from p2ptui.fabric.bdf import BDF
from p2ptui.fabric.model import Host, RootBus
from p2ptui.sources.assemble import Draft, build_fabric, settle_kinds

A, B = BDF(0, 1, 0, 0), BDF(0, 2, 0, 0)


def cycle_with(endpoints: int) -> list[Draft]:
    drafts = [Draft(A, B, Location("capture", 1), bridge=True), Draft(B, A, Location("capture", 2), bridge=True)]
    for i in range(endpoints):
        bdf = BDF(1 + i // 8192, 3 + (i // 256) % 32, (i // 8) % 32, i % 8)
        drafts.append(Draft(bdf, A, Location("capture", 3 + i), values={"class_code": 0x010802}))
    return drafts


def test_a_cycle_of_parents_is_set_aside_with_what_hangs_below_it() -> None:
    fabric = build_fabric("capture", "capture", [RootBus(0, 0)], cycle_with(50), Host())
    assert len(fabric) == 0
    assert {d.bdf for d in fabric.unplaced} == {d.bdf for d in cycle_with(50)}
    assert all(d.conflict for d in fabric.unplaced)
    (aside,) = [n for n in fabric.notes if "set aside under 'unplaced'" in n]
    assert "0000:01:00.0 (line 1): 0000:01:00.0 is below bridge 0000:02:00.0" in aside


def test_a_cycle_above_ten_thousand_functions_costs_a_linear_walk() -> None:
    drafts = cycle_with(10_000)
    start = time.process_time()
    build_fabric("capture", "capture", [RootBus(0, 0)], drafts, Host())
    spent = time.process_time() - start
    assert spent < 3.0, f"{spent:.2f} s of CPU for 10,002 entries (it was 9.3 s when each walked the whole file)"


def test_a_cycle_does_not_disturb_the_order_of_the_sound_part() -> None:
    """Kinds come from position, so a parent must be settled before its children. Here a sound chain is listed
    children first beside a cycle: sorted by depth (the cycle's entries at the bound, last), the root port is
    settled first, then the switch's upstream port, then its downstream port."""
    root_port, upstream, downstream = BDF(0, 0, 1, 0), BDF(0, 5, 0, 0), BDF(0, 6, 0, 0)
    drafts = [
        Draft(downstream, upstream, Location("capture", 1), bridge=True),
        Draft(upstream, root_port, Location("capture", 2), bridge=True),
        *cycle_with(3),
        Draft(root_port, None, Location("capture", 9), bridge=True),
    ]
    kinds, _ = settle_kinds(drafts)
    assert [k.label for k in (kinds[0], kinds[1], kinds[-1])] == [
        "switch downstream port",
        "switch upstream port",
        "root port",
    ]
