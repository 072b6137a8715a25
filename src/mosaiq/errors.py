"""Errors that reach the user: each names the file, and where it can the row and the column."""

from __future__ import annotations

from pathlib import Path
from typing import SupportsInt

FIRST_DATA_ROW = 2
"""Spreadsheet row of the first data row (the header is row 1): position 0 is row 2."""


def spreadsheet_row(position: SupportsInt) -> int:
    """Row number of the data row at ``position`` (0-based) as a spreadsheet shows it."""
    return int(position) + FIRST_DATA_ROW


class MosaiqError(Exception):
    """An error with a message meant for the user; the CLI prints it and exits non-zero."""

    exit_code = 1


class InputError(MosaiqError):
    """Bad input: names the file, the row (as a spreadsheet shows it: header = row 1) and column."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [p for p in (self.file, _fmt("row", self.row), _fmt("column", self.column)) if p]
        return f"{', '.join(where)}: {self.message}" if where else self.message


class RawInputAbsent(MosaiqError):
    """The raw source files of a dataset are not on this machine (a normal state, not a failure).

    The message names the file that was expected and where."""


def _fmt(label: str, value: object) -> str | None:
    if value is None:
        return None
    return f"{label} {value!r}" if label == "column" else f"{label} {value}"
