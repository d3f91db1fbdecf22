"""The switch tree: host bridges → root ports → switches → endpoints, loaded as nodes expand.

Children are added only when a node is first expanded, in one synchronous burst, so the Tree rebuilds its visible
lines once per expansion; a 2,000-function fabric starts with a few dozen lines. Labels are Rich Text built from
describe.py parts and the current theme's palette, and are redrawn in place (set_label) when the selection, the
link load or the theme changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...fabric.bdf import BDF
from ...fabric.model import Device, Fabric, RootBus
from ..describe import AcsRedirect, device_label, hardware_acs_redirect, root_bus_label
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
        for rb in self.fabric.root_buses:
            node = self.root.add(self._label(rb), data=rb, allow_expand=bool(self.fabric.on_root_bus(rb)))
            self._bus_nodes[rb.bus_id] = node
        expand_all = len(self.fabric) <= EXPAND_ALL_UP_TO
        for node in list(self._bus_nodes.values()):
            self._expand(node, recursive=expand_all)
        first = next(iter(self._bus_nodes.values()), None)
        if first is not None:
            self.call_after_refresh(self.move_cursor, first)

    def _children_of(self, item: Item) -> list[Device]:
        if isinstance(item, RootBus):
            return self.fabric.on_root_bus(item)
        return self.fabric.children(item)

    def load_children(self, node: TreeNode[Item]) -> None:
        """Add a node's children once; bridges below get an expander but no children until they open."""
        if node.id in self._loaded or node.data is None:
            return
        self._loaded.add(node.id)
        for dev in self._children_of(node.data):
            child = node.add(self._label(dev), data=dev, allow_expand=bool(self.fabric.children(dev)))
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
        """Load and expand the path to a device and put the cursor on it."""
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
            self.move_cursor(target)
            self.scroll_to_node(target, animate=False)

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
