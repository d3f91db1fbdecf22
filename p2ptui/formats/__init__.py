"""File formats over the fabric model: the YAML fabric format (load, save, the node toolkit plans share), the flat
JSON model, Graphviz DOT, the bundled gallery, input path checks and the one safe way to write an output file.

A new output format for ``p2ptui convert`` goes in writers.py (one row in FORMATS); a new input format is an
importer and goes in p2ptui.sources. This package sits over p2ptui.fabric and under sources, p2p and engine: it never
imports them (import-linter checks it).
"""

from .yaml_load import load_fabric, loads_fabric
from .yaml_save import dumps_fabric, save_fabric

__all__ = ["dumps_fabric", "load_fabric", "loads_fabric", "save_fabric"]
