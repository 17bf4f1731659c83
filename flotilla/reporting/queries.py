"""Read helpers for the observation store. They do not decide who may read: sharing does."""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from flotilla.reporting.models import Observation, Series


def latest_as_at(series: QuerySet[Series], at: datetime | None) -> QuerySet[Observation]:
    """The current value of each series with the greatest as-of time not after `at`.

    One correlated sub-query per series, each answered by the (series, is_current, as_of)
    index, so the cost grows with the number of series, not with the length of history.
    """
    newest = Observation.objects.filter(series=OuterRef("pk"), is_current=True)
    if at is not None:
        newest = newest.filter(as_of__lte=at)
    newest_id = newest.order_by("-as_of").values("id")[:1]
    ids = series.annotate(latest_id=Subquery(newest_id)).values("latest_id")
    return Observation.objects.filter(id__in=ids).select_related(
        "series__measure", "series__site", "series__organisation", "submission"
    )
