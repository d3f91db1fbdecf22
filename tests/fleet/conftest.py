"""The fleet tests build node roots with the sysfs fixtures of tests/sources."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sources"))
