"""What p2ptui says about a fabric, as data both views render: rows of (text, role) parts.

A device, a root complex, the host, a verdict and a transfer become rows here (``rows.py`` defines the shapes); the
CLI prints them plain (``rows.rows_text``) and the TUI styles the roles with theme colours (``tui/styled.py``). So
both skins say the same things in the same words. A new fact a view shows goes here, built from the model's and the
verdict's records (never by parsing another module's text); nothing here imports Textual or Rich.
"""
