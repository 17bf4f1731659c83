"""The picture as CSV rows: `org_code, site_code, measure, value, as_of`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flotilla.picture.queries import Picture

HEADER = ("org_code", "site_code", "measure", "value", "as_of")


def picture_rows(picture: Picture) -> Iterator[tuple[str, str, str, str, str]]:
    """One row per figure shown; a missing figure has an empty value (never 0)."""
    for row in picture.rows:
        for code, fig in sorted(row.figures.items()):
            if fig.is_missing:
                value = ""
            elif fig.text is not None:
                value = fig.text
            else:
                value = f"{fig.value:g}"
            yield (
                row.organisation.code,
                row.site.code if row.site else "",
                code,
                value,
                fig.as_of.isoformat(),
            )


def write_rows(writer: Any, rows: Iterable[tuple[str, ...]]) -> None:
    writer.writerow(HEADER)
    writer.writerows(rows)
