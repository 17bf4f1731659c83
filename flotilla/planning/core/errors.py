"""Errors raised by the planning core."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input data, located by file, row and column where known.

    ``row`` is the 1-based line number in the file (the header is line 1), so that the
    message points at the line a person sees in an editor.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.detail = message
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
