"""The picture as CSV rows: `org_code, site_code, measure, value, as_of`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flotilla.picture.queries import Picture
from flotilla.registry.models import Organisation, Site
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
    latest = latest_as_at(series, at)
    orgs = dict(Organisation.objects.values_list("id", "code"))
    sites = dict(Site.objects.filter(id__in={o.site_id for o in latest}).values_list("id", "code"))
    rows = []
    for o in latest:
        if o.missing_reason:
            value = ""
        elif o.text is not None:
            value = o.text
        else:
            value = f"{o.value:g}"
        site = sites[o.site_id] if o.site_id else ""
        rows.append((orgs[o.organisation_id], site, o.measure, value, o.as_of.isoformat()))
    yield from sorted(rows)
