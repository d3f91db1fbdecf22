from collections import Counter

from p2ptui.fabric.synth import large_fabric, random_fabric
from p2ptui.formats import dumps_fabric, load_fabric, loads_fabric
from p2ptui.formats.gallery import find_bundled


def test_random_fabrics_are_valid_deterministic_and_varied():
    seen = Counter()
    for seed in range(300):
        fabric = random_fabric(seed)
        assert random_fabric(seed) == fabric
        # The walk reaches every function exactly once.
        assert sorted((d for _, d in fabric.walk()), key=lambda d: d.bdf) == list(fabric.devices)
        seen["vf"] += any(d.is_vf for d in fabric)
        seen["cascade"] += any(
            d.kind.value == "switch_upstream" and fabric.parent(d).kind.value == "switch_downstream" for d in fabric
        )
        seen["multi_root"] += len(fabric.root_buses) > 1
        seen["rciep"] += any(d.kind.is_endpoint and d.parent is None for d in fabric)
        seen["multifunction"] += any(fabric.siblings(d) for d in fabric)
        seen["wide_domain"] += any(rb.domain > 0xFFFF for rb in fabric.root_buses)
        seen["unpublished"] += any(d.pool and not d.pool.published for d in fabric)
    # Each corner the verdict must handle shows up in a fair share of seeds.
    for corner in ("vf", "cascade", "multi_root", "rciep", "multifunction", "wide_domain", "unpublished"):
        assert seen[corner] >= 15, (corner, seen)


def test_random_fabrics_round_trip_through_yaml():
    for seed in range(40):
        fabric = random_fabric(seed)
        assert loads_fabric(dumps_fabric(fabric)) == fabric


def test_large_fabric_shape():
    fabric = large_fabric(1024)
    assert len(fabric.endpoints()) == 1024
    assert len(fabric) >= 2000
    assert {rb.numa_node for rb in fabric.root_buses} == {0, 1}
    assert len(fabric.providers()) == 512


def test_bundled_large_fabric_is_the_generator_output():
    # Regenerate with: python -c "from p2ptui.fabric.synth import large_fabric; from p2ptui.fabric import
    # save_fabric; save_fabric(large_fabric(1024), 'p2ptui/fabrics/large-synthetic.yaml')"
    assert load_fabric(find_bundled("large-synthetic")) == large_fabric(1024)
