"""Errors shared by the core and its clients.

Every error a user can cause by bad input derives from InputError, which the CLI turns into one line per problem
and exit code 2. Anything else escaping to the top is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in an input a problem sits; line and column are 1-based, as editors show them."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in an input, with an optional hint on how to fix it."""

    message: str
    location: Location | None = None
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class P2PTUIError(Exception):
    """Base class of the errors p2ptui raises on purpose."""


class InputError(P2PTUIError):
    """Bad input from the user: a file, an argument, a device name. Carries every problem found, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        if not diagnostics:
            raise ValueError("InputError needs at least one diagnostic")
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class FieldValueError(ValueError):
    """A value refused by a model's own checks, naming the field it belongs to so a view can point at the flag or key
    the value came from without reading the message."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
