"""The words and marks the TUI shows for devices, without any widgets."""

from tui_helpers import ODD

from p2ptui.fabric.bdf import BDF
from p2ptui.formats import loads_fabric
from p2ptui.present.device import (
    device_label,
    device_rows,
    hardware_acs_redirect,
    load_role,
    root_bus_rows,
)
from p2ptui.present.rows import plain
from p2ptui.sources import open_fabric
from p2ptui.tui.selection import Selection
from p2ptui.tui.styled import palette_from, to_text


def test_label_shows_link_pool_group_and_downtraining():
    fabric = loads_fabric(ODD)
    dev = fabric.find("01:00.0")
    text = plain(device_label(fabric, dev, acs_redirect=False))
    assert "nvme[0]" in text and "01:00.0" in text
    assert "gen3 x2!↓" in text  # narrower (a fault) and slower (maybe idle) than gen4 x4
    assert "◈256 MiB" in text and "g7" in text


def test_acs_redirect_comes_from_live_control_bits():
    fabric = loads_fabric(ODD)
    port = fabric.find("00:01.0")
    assert hardware_acs_redirect(port) is True
    assert "⇡ACS" in plain(device_label(fabric, port, acs_redirect=True))
    rows = dict((k, plain(v)) for k, v in device_rows(fabric, port, True) if k)
    assert rows["ACS cap"].startswith("SV source validation  RR P2P request redirect")
    assert "EC P2P egress control" in rows["ACS cap"]
    assert "UF" not in rows["ACS ctrl"] and "CR P2P completion redirect" in rows["ACS ctrl"]


def test_roles_become_badges():
    fabric = open_fabric("nvmeof-target")
    nvme0 = fabric.find("nvme0")
    assert plain(device_label(fabric, nvme0, role="exporter")).startswith(" E ")
    assert plain(device_label(fabric, nvme0, role="both")).startswith(" E   I ")


def test_markup_in_data_stays_text():
    fabric = loads_fabric(ODD)
    dev = fabric.find("01:00.0")
    rows = dict((k, plain(v)) for k, v in device_rows(fabric, dev))
    assert rows["product"] == "[link down] [/dev/nvme0n1]"
    text = to_text(device_label(fabric, dev), palette_from({"text-success": "#00ff00"}))
    assert "nvme[0]" in text.plain


def test_root_bus_rows_name_the_representative():
    fabric = open_fabric("nvmeof-target")
    rows = dict((k, plain(v)) for k, v in root_bus_rows(fabric, fabric.root_buses[1]) if k)
    assert rows["first device"] == "rp0 (17:00.0) [8086:2030]"
    assert rows["functions"] == "13"


def test_load_tiers():
    assert [load_role(x) for x in (0.1, 0.6, 0.95)] == ["ok", "warn", "bad"]


def test_selection_roles_and_touched():
    a, b, c = (BDF(0, 1, 0, 0), BDF(0, 2, 0, 0), BDF(0, 3, 0, 0))
    s = Selection().with_exporter(a).toggle_importer(b).toggle_importer(c)
    assert s.complete and s.role_of(a) == "exporter" and s.importers == (b, c)
    t = s.toggle_importer(b).toggle_importer(a)
    assert t.role_of(a) == "both" and t.touched(s) == {a, b}


def test_unknown_link_and_subsystem_facts_are_left_out_not_shown_as_question_marks():
    fabric = open_fabric("tests/data/hwloc/nvidiaDGX2.xml")
    gpu = fabric.find("gpu0")
    label = plain(device_label(fabric, gpu))
    assert "?" not in label
    rows = {key: plain(parts) for key, parts in device_rows(fabric, gpu)}
    assert "?" not in "".join(rows.values())
    odd = loads_fabric(ODD)
    ids = dict(device_rows(odd, odd.find("nvme[0]")))["IDs"]
    assert plain(ids).endswith("subsystem —")


def test_other_devices_say_what_they_are_when_the_source_knows():
    fabric = loads_fabric(ODD.replace('kind: nvme, name: "nvme[0]"', 'kind: other, name: "nvme[0]"'))
    dev = fabric.find("nvme[0]")
    assert "[link down] [/dev/nvme0n1]" in plain(device_label(fabric, dev))


def test_the_selection_bar_counts_the_importers_that_do_not_fit():
    from p2ptui.tui.widgets.bars import selection_content

    fabric = open_fabric("tests/data/hwloc/nvidiaDGX2.xml")
    gpus = [d.bdf for d in fabric.endpoints() if d.kind.value == "gpu"]
    text = selection_content(fabric, Selection(gpus[0], tuple(gpus[1:])), 60).plain
    assert len(text) <= 60 and text.endswith("more")
    shown = text.count("gpu") - 1
    assert f"+{len(gpus) - 1 - shown} more" in text
    assert "more" not in selection_content(fabric, Selection(gpus[0], tuple(gpus[1:3])), 60).plain
