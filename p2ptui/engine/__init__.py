"""Transfers over a fabric, Textual-free: routes from the P2P verdict, a fluid simulator (sim.py), a real engine that
moves and verifies bytes (real.py), and an asyncio runner both share (runner.py). See docs/copy.md."""
