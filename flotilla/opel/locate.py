"""Where a key sits in a TOML text, so that an error can name the line a person must change.

`tomllib` gives the data and forgets the layout. This reads the layout back: each table
header and each key's line, keyed by its path (`("bands",)`, `("rollup", "rule")`, and for the
Nth `[[parameters]]` table, counted from 0, `("parameters", N, "thresholds")`). It understands
strings (basic, literal and multi-line), comments and values spread over several lines well
enough that a key inside a string or an array is never taken for one; it does not validate,
since only a text `tomllib` has already accepted is ever read.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(
    r"""^((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _parts(dotted: str) -> list[str]:
    """`a."b.c".d` → ["a", "b.c", "d"]."""
    return [
        p.strip().strip("\"'") for p in re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)
    ]


class Locator:
    """The line (1-based) of every table header and key in one TOML text."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        self.last_line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        arrays: dict[tuple[str, ...], int] = {}
        table: Path = ()
        depth = 0  # open brackets and braces of a value spread over several lines
        string = ""  # the delimiter of a multi-line string still open, if any
        for number, line in enumerate(text.splitlines(), 1):
            at_start = depth == 0 and not string
            if at_start:
                stripped = line.strip()
                header = _HEADER.match(stripped)
                key = _KEY.match(stripped)
                if header and not key:
                    names = tuple(_parts(header.group(2)))
                    if header.group(1) == "[[":
                        index = arrays.get(names, -1) + 1
                        arrays[names] = index
                        table = (*names, index)
                    else:
                        table = names
                    self.lines.setdefault(table, number)
                    continue
                if key:
                    self.lines.setdefault((*table, *_parts(key.group(1))), number)
            depth, string = _scan(line, depth, string)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of the nearest enclosing key or table that has one."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


def _scan(line: str, depth: int, string: str) -> tuple[int, str]:
    """The bracket depth and open multi-line string after one more line."""
    i = 0
    while i < len(line):
        if string:
            if string == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(string, i):
                i += 3
                string = ""
                continue
            i += 1
            continue
        ch = line[i]
        if ch == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            string = line[i : i + 3]
            i += 3
            continue
        if ch in "\"'":
            end = i + 1
            while end < len(line) and line[end] != ch:
                end += 2 if ch == '"' and line[end] == "\\" else 1
            i = end + 1
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return depth, string
