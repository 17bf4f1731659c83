"""The picture as CSV rows: `org_code, site_code, measure, value, as_of, detail`.

`detail` says how the owner shares the value with whoever exported it: exact, banded
(rounded to the nearest 5) or status (no number). Importers ignore the column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flotilla.picture.queries import Picture
from flotilla.registry.models import Organisation, Site
from flotilla.sharing import policy

HEADER = ("org_code", "site_code", "measure", "value", "as_of", "detail")


def cell(missing_reason: str, text: str | None, value: float | None) -> str:
    """A value as written in a CSV: empty when missing (never 0) or not shared as a number
    (status only), text as it is."""
    if missing_reason or (value is None and text is None):
        return ""
    if text is not None:
        return text
    return f"{value:g}"


def picture_rows(picture: Picture) -> Iterator[tuple[str, str, str, str, str, str]]:
    """One row per figure shown; a missing figure has an empty value (never 0)."""
    for row in picture.rows:
        for code, fig in sorted(row.figures.items()):
            yield (
                row.organisation.code,
                row.site.code if row.site else "",
                code,
                cell(fig.missing_reason, fig.text, fig.value),
                fig.as_of.isoformat(),
                fig.detail,
            )


def write_rows(writer: Any, rows: Iterable[tuple[str, ...]]) -> None:
    writer.writerow(HEADER)
    writer.writerows(rows)


def rows_as_at(
    viewer: policy.Viewer, at: datetime, organisation_ids: set[int] | None = None
) -> Iterator[tuple[str, str, str, str, str, str]]:
    """The latest value of every measure for every organisation and site the viewer may read."""
    latest = policy.read_latest(viewer, at, organisation_ids).values
    orgs = dict(Organisation.objects.values_list("id", "code"))
    sites = dict(Site.objects.filter(id__in={o.site_id for o in latest}).values_list("id", "code"))
    rows = []
    for o in latest:
        site = sites[o.site_id] if o.site_id else ""
        value = cell(o.missing_reason, o.text, o.value)
        rows.append(
            (orgs[o.organisation_id], site, o.measure, value, o.as_of.isoformat(), o.detail)
        )
    yield from sorted(rows)
