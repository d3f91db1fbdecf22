"""The TUI's screens, one module each.

A new screen goes here: a Textual Screen that gets what it shows in its constructor (a fabric, a profile, a report)
and decides nothing about P2P itself (it asks tui/decide.py, which forwards to p2ptui.p2p). The screen that opens it
pushes it from an action bound to a key in its BINDINGS and lists the same action in palette_actions(), so the key
and the command palette agree; the help screen (?) shows each screen's BINDINGS; styles go in tui/app.tcss.
"""
