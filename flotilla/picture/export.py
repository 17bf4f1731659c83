"""The picture as CSV rows: `org_code, site_code, measure, value, as_of`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flotilla.picture.queries import Picture
from flotilla.reporting.queries import latest_as_at
from flotilla.sharing import policy

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


def rows_as_at(
    viewer: policy.Viewer, at: datetime, organisation_ids: set[int] | None = None
) -> Iterator[tuple[str, str, str, str, str]]:
    """The latest value of every measure for every organisation and site the viewer may read."""
    series = policy.readable_series(viewer, organisation_ids)
    observations = sorted(
        latest_as_at(series, at),
        key=lambda o: (
            o.series.organisation.code,
            o.series.site.code if o.series.site else "",
            o.series.measure.code,
        ),
    )
    for o in observations:
        if o.missing_reason:
            value = ""
        elif o.text is not None:
            value = o.text
        else:
            value = f"{o.value:g}"
        yield (
            o.series.organisation.code,
            o.series.site.code if o.series.site else "",
            o.series.measure.code,
            value,
            o.as_of.isoformat(),
        )
