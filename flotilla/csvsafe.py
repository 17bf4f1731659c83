"""Every CSV Flotilla writes goes through `writer()`, which defuses formulas in text cells.

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and some strip a leading tab or carriage return before looking ("CSV injection",
OWASP). Text that someone else typed (a situation report, a site code, a token's name) can
start that way, so `writer()` puts a single quote in front of any such text cell; spreadsheets
show the quote-led cell as the text it was.

Cells are judged by their type, never by their content: numbers (``int``, ``float``,
``Decimal``, numpy's numbers, and `Numeral`, a number we formatted ourselves) are written as
they are, so a negative figure stays a number; every ``str`` is text, so a reported text
``-5`` comes out as ``'-5``. ``None`` is an empty cell; anything else is written as its
``str()``, as text.

This module needs nothing but the standard library, so the planning core (which must not
import Django) writes through it too.
"""

from __future__ import annotations

import csv
import numbers
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

#: What a spreadsheet may take as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Numeral(str):
    """A number we formatted ourselves (``Numeral(2.5)`` is ``"2.5"``): written as it is.

    Only a number makes one (``Numeral("=1")`` is a TypeError), so a `Numeral` starting with
    ``-`` is a negative number and never a formula.
    """

    __slots__ = ()

    def __new__(cls, value: float | Decimal, spec: str = "g") -> Numeral:
        if not isinstance(value, numbers.Real | Decimal):
            raise TypeError(f"Numeral needs a number, not {type(value).__name__}")
        return super().__new__(cls, format(value, spec))


def neutralise(cell: object) -> object:
    """The cell as it is safe to write: text starting like a formula gets a leading quote."""
    if isinstance(cell, str):
        if isinstance(cell, Numeral) or not cell.startswith(FORMULA_STARTS):
            return cell
        return "'" + cell
    if cell is None or isinstance(cell, numbers.Real | Decimal):
        return cell
    text = str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _File(Protocol):
    def write(self, text: str, /) -> Any: ...


class SafeWriter:
    """`csv.writer` with every cell passed through `neutralise`."""

    def __init__(self, out: _File, **options: Any):
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: _File, **options: Any) -> SafeWriter:
    """A CSV writer on `out` (a file, an HttpResponse) that defuses formulas in text cells."""
    return SafeWriter(out, **options)
