"""Fleets: many nodes' fabrics, collected over ClusterShell, aligned by structure and compared with a reference.

Textual-free, like the rest of the core: the CLI (``p2ptui fleet``) and the TUI's fleet screen build on it.
"""
