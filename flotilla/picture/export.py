"""The picture as CSV rows: `org_code, site_code, measure, value, as_of, detail`.

`detail` says how the owner shares the value with whoever exported it: exact, banded
(rounded to the nearest 5) or status (no number). In the dashboard's CSV a figure another
organisation does not show gets a row with no value or time and, as its `detail`, why: "not
shared with you" or "not yet visible — shared N hours late"; a measure with no row at all was
not reported. Importers ignore the column.

Rows are written through `flotilla.csvsafe`: a reported text that a spreadsheet would run
as a formula is defused, while figures (written as `Numeral`) stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flotilla import csvsafe
from flotilla.formatting import why_missing
from flotilla.organisations.models import Organisation, Site
from flotilla.picture.queries import Picture
from flotilla.sharing import policy

HEADER = ("org_code", "site_code", "measure", "value", "as_of", "detail")


def cell(missing_reason: str, text: str | None, value: float | None) -> str:
    """A value as written in a CSV: empty when missing (never 0) or not shared as a number
    (status only), text as it is, a number as a `csvsafe.Numeral`."""
    if missing_reason or (value is None and text is None):
        return ""
    if text is not None:
        return text
    return figure(value)


def figure(value: float | None) -> str:
    """A number for a CSV cell (``20``, ``0.5``, ``-3``), or empty when there is none."""
    return "" if value is None else csvsafe.Numeral(value)


def picture_rows(picture: Picture) -> Iterator[tuple[str, str, str, str, str, str]]:
    """One row per figure shown; a missing figure has an empty value (never 0); a figure not
    shown says why instead of its detail (not shared, not yet visible)."""
    for row in picture.rows:
        org, site = row.organisation.code, row.site.code if row.site else ""
        for code, fig in sorted(row.figures.items()):
            yield (
                org,
                site,
                code,
                cell(fig.missing_reason, fig.text, fig.value),
                fig.as_of.isoformat(),
                fig.detail,
            )
        # Withheld is said once per organisation (it holds for its sites too), as in the API.
        absent = {c: why_missing(withheld=True) for c in row.withheld if row.site is None}
        absent.update({c: why_missing(delayed=h) for c, h in row.delayed.items()})
        for code, why in sorted(absent.items()):
            yield (org, site, code, "", "", why)


def write_rows(out: Any, rows: Iterable[tuple[str, ...]]) -> None:
    """The header and `rows` as CSV on `out` (a file or an HttpResponse), formulas defused."""
    writer = csvsafe.writer(out)
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
