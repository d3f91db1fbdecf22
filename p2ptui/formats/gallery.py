"""The sample fabrics shipped inside the package, found the same way in a source tree and an installed wheel."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class GalleryEntry:
    name: str  # the file's stem: what users type
    title: str  # the fabric's own name
    description: str
    path: Path


def gallery_dir() -> Path:
    return Path(str(resources.files("p2ptui.fabrics")))


def bundled() -> list[GalleryEntry]:
    """Every bundled fabric, sorted by name."""
    entries = []
    for path in sorted(gallery_dir().glob("*.yaml")):
        title, description = _summary(path)
        entries.append(GalleryEntry(path.stem, title or path.stem, description, path))
    return entries


def find_bundled(name: str) -> Path | None:
    path = gallery_dir() / f"{name}.yaml"
    return path if name and "/" not in name and path.is_file() else None


def _summary(path: Path) -> tuple[str, str]:
    """The top-level name and description, read from the event stream so large fabrics are not built."""
    found: dict[str, str] = {}
    depth = 0
    key: str | None = None
    with path.open("rb") as stream:
        for event in yaml.parse(stream, Loader=_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                key = None if depth > 1 else key
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                if depth == 1:
                    key = None
            elif isinstance(event, yaml.ScalarEvent) and depth == 1:
                if key is None:
                    key = event.value
                    if key == "root_complexes":
                        break
                else:
                    if key in ("name", "description"):
                        found[key] = event.value
                    key = None
    return found.get("name", ""), " ".join(found.get("description", "").split())
