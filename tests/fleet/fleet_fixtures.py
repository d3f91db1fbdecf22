"""What the fleet tests share beyond the synthetic nodes (p2ptui.fleet.synth): the transport script that stands in
for ssh."""

from __future__ import annotations

from pathlib import Path

TRANSPORT = Path(__file__).resolve().parent / "transport.sh"
