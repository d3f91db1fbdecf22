"""The user's choice of exporter (whose P2P memory is used) and importers (the DMA clients)."""

from __future__ import annotations

from dataclasses import dataclass

from ..fabric.bdf import BDF


@dataclass(frozen=True)
class Selection:
    exporter: BDF | None = None
    importers: tuple[BDF, ...] = ()

    @property
    def empty(self) -> bool:
        return self.exporter is None and not self.importers

    @property
    def complete(self) -> bool:
        """Enough to ask the kernel's question: one exporter and at least one importer."""
        return self.exporter is not None and bool(self.importers)

    def with_exporter(self, bdf: BDF) -> Selection:
        # The kernel accepts a device as client of its own memory (distance 0), so the roles do not exclude each other.
        return Selection(bdf, self.importers)

    def toggle_importer(self, bdf: BDF) -> Selection:
        if bdf in self.importers:
            return Selection(self.exporter, tuple(b for b in self.importers if b != bdf))
        return Selection(self.exporter, self.importers + (bdf,))

    def role_of(self, bdf: BDF) -> str:
        exporter = bdf == self.exporter
        importer = bdf in self.importers
        return "both" if exporter and importer else "exporter" if exporter else "importer" if importer else ""

    def touched(self, other: Selection) -> set[BDF]:
        """Devices whose role differs between two selections (their tree labels need redrawing)."""
        mine = {b for b in (self.exporter, *self.importers) if b is not None}
        theirs = {b for b in (other.exporter, *other.importers) if b is not None}
        return {b for b in mine | theirs if self.role_of(b) != other.role_of(b)}
