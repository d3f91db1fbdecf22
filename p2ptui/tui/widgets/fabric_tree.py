"""The switch tree: host bridges → root ports → switches → endpoints, loaded as nodes expand.

Children are added only when a node is first expanded, in one synchronous burst, so the Tree rebuilds its visible
lines once per expansion; a 2,000-function fabric starts with a few dozen lines. Labels are Rich Text built from
present/device.py parts and the current theme's palette, and are redrawn in place (set_label) when the selection, the
link load or the theme changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...fabric.bdf import BDF
from ...fabric.model import Device, Fabric, RootBus
from ...fabric.naming import device_names
from ...present.device import AcsRedirect, device_label, hardware_acs_redirect, root_bus_label
from ..styled import palette_from, to_text

Item = Device | RootBus
# Small fabrics open fully expanded; larger ones show their root complexes and first level only.
EXPAND_ALL_UP_TO = 150


class FabricTree(Tree[Item]):
    def __init__(
        self,
        fabric: Fabric,
        *,
        role_of: Callable[[BDF], str] = lambda bdf: "",
        acs_redirect: AcsRedirect = hardware_acs_redirect,
        id: str | None = None,
    ) -> None:
        super().__init__("fabric", id=id)
        self.filter = ""
        self._keep: set[BDF] | None = None  # while a filter is set: the matches and their ancestors
        self.matches: list[Device] = []
        self.fabric = fabric
        self.role_of = role_of
        self.acs_redirect = acs_redirect
        self.loads: dict[BDF, float] = {}
        self.show_root = False
        self.guide_depth = 3
        self._palette: dict[str, str] = {}
        self._device_nodes: dict[BDF, TreeNode[Item]] = {}
        self._bus_nodes: dict[tuple[int, int], TreeNode[Item]] = {}
        self._loaded: set[int] = set()

    # -- building ---------------------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._palette = palette_from(self.app.theme_variables)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._on_theme_changed())
        self._populate()

    def _populate(self) -> None:
        for rb in self.fabric.root_buses:
            children = self._children_of(rb)
            if self._keep is not None and not children:
                continue
            node = self.root.add(self._label(rb), data=rb, allow_expand=bool(children))
            self._bus_nodes[rb.bus_id] = node
        expand_all = self._keep is not None or len(self.fabric) <= EXPAND_ALL_UP_TO
        for node in list(self._bus_nodes.values()):
            self._expand(node, recursive=expand_all)
        first = next(iter(self._bus_nodes.values()), None)
        if self._keep is not None and self.matches:
            first = self._device_nodes.get(self.matches[0].bdf, first)
        if first is not None:
            # Lay the lines out now (the Tree would on its next idle) so the cursor, and the device pane that
            # follows it, are on the very first frame rather than one frame later.
            self.get_node_at_line(0)
            self.move_cursor(first)

    def _children_of(self, item: Item) -> list[Device]:
        children = self.fabric.on_root_bus(item) if isinstance(item, RootBus) else self.fabric.children(item)
        if self._keep is not None:
            children = [d for d in children if d.bdf in self._keep]
        return children

    def set_filter(self, query: str) -> int:
        """Show only the devices ``query`` matches, with their ancestors, all expanded ("" shows everything again);
        how many devices match. Words must all match (name, address, kind, IDs, product); commas give
        alternatives: "gpu, nic" shows GPUs and NICs."""
        self.filter = query.strip()
        if self.filter:
            self.matches = [d for d in self.fabric.devices if device_matches(d, self.filter)]
            keep: set[BDF] = set()
            for dev in self.matches:
                up: Device | None = dev
                while up is not None and up.bdf not in keep:
                    keep.add(up.bdf)
                    up = self.fabric.parent(up)
            self._keep = keep
        else:
            self.matches, self._keep = [], None
        self.clear()
        self._device_nodes.clear()
        self._bus_nodes.clear()
        self._loaded.clear()
        self._populate()
        return len(self.matches) if self.filter else len(self.fabric)

    def load_children(self, node: TreeNode[Item]) -> None:
        """Add a node's children once; bridges below get an expander but no children until they open."""
        if node.id in self._loaded or node.data is None:
            return
        self._loaded.add(node.id)
        for dev in self._children_of(node.data):
            child = node.add(self._label(dev), data=dev, allow_expand=bool(self._children_of(dev)))
            self._device_nodes[dev.bdf] = child

    def _expand(self, node: TreeNode[Item], recursive: bool) -> None:
        self.load_children(node)
        node.expand()
        if recursive:
            for child in node.children:
                if child.allow_expand:
                    self._expand(child, recursive=True)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Item]) -> None:
        self.load_children(event.node)

    # -- finding ----------------------------------------------------------------------------------------------------
    def node_for(self, bdf: BDF) -> TreeNode[Item] | None:
        return self._device_nodes.get(bdf)

    def reveal(self, bdf: BDF) -> None:
        """Load and expand the path to a device and put the cursor on it, mid-view (never under a scrollbar)."""
        if self._keep is not None and bdf not in self._keep:
            self.set_filter("")  # a device the filter hides: show everything again to reach it
        dev = self.fabric.device(bdf)
        path: list[Device] = []
        up = self.fabric.parent(dev)
        while up is not None:
            path.append(up)
            up = self.fabric.parent(up)
        node = self._bus_nodes[self.fabric.root_bus_of(dev).bus_id]
        self.load_children(node)
        node.expand()
        for bridge in reversed(path):
            node = self._device_nodes[bridge.bdf]
            self.load_children(node)
            node.expand()
        target = self._device_nodes[bdf]

        def move() -> None:
            self.move_cursor(target, animate=False)
            self.center_scroll = True
            self.scroll_to_node(target, animate=False)
            self.center_scroll = False
            self.scroll_to(x=0, animate=False)

        self.call_after_refresh(move)

    @property
    def highlighted(self) -> Item | None:
        node = self.cursor_node
        return node.data if node is not None else None

    # -- labels -----------------------------------------------------------------------------------------------------
    def _label(self, item: Item):
        if isinstance(item, RootBus):
            return to_text(root_bus_label(self.fabric, item), self._palette)
        parts = device_label(
            self.fabric,
            item,
            role=self.role_of(item.bdf),
            acs_redirect=self.acs_redirect(item),
            load=self.loads.get(item.bdf),
        )
        return to_text(parts, self._palette)

    def relabel(self, bdfs: Iterable[BDF] | None = None) -> None:
        """Redraw the labels of these devices (all loaded ones when None); unloaded nodes get theirs when added."""
        if bdfs is None:
            nodes: Iterable[TreeNode[Item]] = [*self._bus_nodes.values(), *self._device_nodes.values()]
        else:
            nodes = [n for n in (self._device_nodes.get(b) for b in bdfs) if n is not None]
        for node in nodes:
            if node.data is not None:
                node.set_label(self._label(node.data))

    def set_loads(self, loads: Mapping[BDF, float]) -> None:
        """Colour uplinks by utilisation (0..1); only labels whose load changed are redrawn."""
        changed = {b for b in set(loads) | set(self.loads) if _rounded(loads.get(b)) != _rounded(self.loads.get(b))}
        self.loads = dict(loads)
        if changed:
            self.relabel(changed)

    def _on_theme_changed(self) -> None:
        self._palette = palette_from(self.app.theme_variables)
        self.relabel()


def _rounded(load: float | None) -> int | None:
    # Labels show whole percent: smaller changes need no redraw.
    return None if load is None else round(load * 100)


def device_matches(dev: Device, query: str) -> bool:
    """Whether a device answers a filter: any comma-separated alternative whose words all appear in its name,
    address, kind, IDs, product or vendor/device names."""
    names = device_names(dev)
    haystack = " ".join(
        str(x)
        for x in (
            dev.name,
            dev.bdf,
            dev.bdf.short(),
            dev.kind.value,
            dev.kind.label,
            dev.ids,
            dev.product or "",
            names.vendor or "",
            names.device or "",
        )
    ).lower()
    for alternative in query.lower().split(","):
        words = alternative.split()
        if words and all(w in haystack for w in words):
            return True
    return False
