"""API for reading the shared picture. Every read goes through flotilla.sharing.policy."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel, BeforeValidator

from flotilla import catalogue as catalogue_module
from flotilla import formatting
from flotilla.authz.api_auth import (
    CODE_LENGTH,
    READ_ERRORS,
    MeasureCode,
    OrgCode,
    Slug,
    encoded,
    encoded_response,
    field_errors,
    has_nul,
    require_scope,
    safe_text,
)
from flotilla.authz.api_auth import QueryTime as ShortTime
from flotilla.authz.models import TokenScope
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import (
    collaboratives_of,
    find_collaborative,
    member_ids,
    members_of,
)
from flotilla.escalation import queries as escalation
from flotilla.picture import queries
from flotilla.sharing import policy

router = Router(tags=["picture"])

NOT_SHARED = formatting.why_missing(withheld=True)
#: The longest span one history call returns; longer spans are fetched in pieces.
MAX_HISTORY = timedelta(days=400)
DEFAULT_HISTORY = timedelta(days=7)


class MemberOut(Schema):
    code: str
    name: str


class CollaborativeOut(Schema):
    slug: str
    name: str
    purpose: str
    reporting_interval_hours: int
    members: list[MemberOut]


class Plain(BaseModel):
    """A response part the operation builds as plain dicts: validated by pydantic alone,
    without ninja's `Schema` wrapping each object to read Django model attributes, which
    took 15 ms of CPU for the demo's 284 rows, of a request of 70 to 90 ms (2026-12-01)."""


class FigureOut(Plain):
    org_code: str
    site_code: str | None
    measure: str
    value: float | None = Field(
        ...,
        description="Exact, or rounded to the nearest 5 when shared banded; null when missing "
        "or shared as status only.",
    )
    text: str | None
    missing_reason: str
    as_of: datetime
    stale: bool = Field(..., description="Older than the collaborative's staleness limit.")
    detail: str = Field(..., description="How the owner shares it with you: exact, banded, status.")
    delay_hours: int = Field(..., description="How late the owner shares it with you (0: live).")
    rag: str = Field(
        ..., description="red, amber, green or none, judged on the owner's exact figure."
    )


class WithheldOut(Plain):
    org_code: str
    measure: str
    reason: str = Field(..., description="Why it is missing, in words: not shared with you.")


class DelayedOut(Plain):
    org_code: str
    site_code: str | None
    measure: str
    delay_hours: int = Field(..., description="How late the owner shares it with you.")
    reason: str = Field(
        ..., description="Why it is missing, in words: not yet visible — shared N hours late."
    )


class CoverageOut(Plain):
    reported_recently: int = Field(
        ..., description="Members with a figure within the last reporting interval."
    )
    members: int = Field(
        ..., description="Members expected to report (commissioners such as ICBs are not)."
    )


class PictureOut(Plain):
    collaborative: str
    at: datetime
    is_live: bool
    rows: list[FigureOut]
    withheld: list[WithheldOut] = Field(
        ..., description="Measures members do not share with you (never counted as zero)."
    )
    delayed: list[DelayedOut] = Field(
        ...,
        description="Measures with no row because everything reported is newer than your "
        "grants show yet. A measure in neither list and with no row was not reported.",
    )
    coverage: CoverageOut


class PointOut(Schema):
    as_of: datetime
    value: float | None = Field(..., description="Null where the value was missing.")
    detail: str = Field(
        ...,
        description="exact or banded: an older point may be finer than a newer one when a "
        "finer grant is also a later one.",
    )


class SeriesOut(Schema):
    measure: str
    shared: bool = Field(..., description="False when the organisation does not share it with you.")
    detail: str | None = Field(..., description="exact, banded or status; null if not shared.")
    delay_hours: int | None
    points: list[PointOut]


class HistoryOut(Schema):
    org_code: str
    site_code: str | None
    since: datetime
    until: datetime
    series: list[SeriesOut]


_UNENCODED_PLUS = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def _plus_from_query(value: Any) -> Any:
    """Undo the usual slip of an unencoded '+' in a query string ('…08:00:00 00:00')."""
    if isinstance(value, str):
        return _UNENCODED_PLUS.sub(r"\1+\2", value)
    return value


#: A time in a query string: ISO 8601 with its UTC offset (Z, or + encoded as %2B).
QueryTime = Annotated[ShortTime, BeforeValidator(_plus_from_query)]
#: As many measure codes as the catalogue has: enough for every measure once, and a bound on
#: the URL's length.
MAX_MEASURES = len(catalogue_module.current().measures)
SiteCode = safe_text(CODE_LENGTH)


@router.get(
    "/collaboratives", response={200: list[CollaborativeOut], **READ_ERRORS}, summary="Mine"
)
def list_collaboratives(request: HttpRequest) -> list[dict[str, Any]]:
    """The collaboratives the token's organisation is an active member of."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    return [
        {
            "slug": c.slug,
            "name": c.name,
            "purpose": c.purpose,
            "reporting_interval_hours": c.reporting_interval_hours,
            "members": [{"code": m.code, "name": m.name} for m in members_of(c)],
        }
        for c in collaboratives_of(viewer.organisation_ids).order_by("name")
    ]


@router.get(
    "/collaboratives/{slug}/picture",
    response={200: PictureOut, **READ_ERRORS},
    summary="Shared picture",
)
def collaborative_picture(
    request: HttpRequest,
    slug: Slug,
    at: Annotated[
        QueryTime | None,
        Query(description="A past moment (ISO 8601 with offset); omitted for the live picture."),
    ] = None,
) -> HttpResponse:
    """Each member's latest values of every measure, now or as at a past moment.

    404 if the token's organisation is not a member of the collaborative.
    """
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(slug):
        raise Http404
    collab = find_collaborative(viewer.organisation_ids, slug)
    # Nothing in it depends on the token: one answer serves for a few seconds every reader
    # who may see the same (ADR 0038; live, the same of the members, ADR 0039), kept as the
    # body it is sent as (ADR 0047).
    return encoded_response(
        policy.shared_answer(
            viewer,
            ("picture API", collab.slug, at),
            lambda as_viewer: encoded(request, PictureOut, _picture(as_viewer, collab, at)),
            owners=member_ids(collab) if at is None else None,
        )
    )


def _picture(viewer: policy.Viewer, collab: Collaborative, at: datetime | None) -> dict[str, Any]:
    measures = [m.code for m in catalogue_module.current().measures]
    picture = queries.collaborative_picture(viewer, collab, at, measures=measures)
    rows = [
        {
            "org_code": row.organisation.code,
            "site_code": row.site.code if row.site else None,
            "measure": code,
            "value": fig.value,
            "text": fig.text,
            "missing_reason": fig.missing_reason,
            "as_of": fig.as_of,
            "stale": fig.stale,
            "detail": fig.detail,
            "delay_hours": fig.delay_hours,
            "rag": fig.rag,
        }
        for row in picture.rows
        for code, fig in sorted(row.figures.items())
    ]
    withheld = [
        {"org_code": row.organisation.code, "measure": code, "reason": NOT_SHARED}
        for row in picture.rows
        if row.site is None
        for code in sorted(row.withheld)
    ]
    delayed = [
        {
            "org_code": row.organisation.code,
            "site_code": row.site.code if row.site else None,
            "measure": code,
            "delay_hours": hours,
            "reason": formatting.why_missing(delayed=hours),
        }
        for row in picture.rows
        for code, hours in sorted(row.delayed.items())
    ]
    return {
        "collaborative": collab.slug,
        "at": picture.at,
        "is_live": picture.is_live,
        "rows": rows,
        "withheld": withheld,
        "delayed": delayed,
        "coverage": {
            "reported_recently": picture.reported_recently,
            "members": len(picture.expected),
        },
    }


@router.get(
    "/organisations/{code}/history",
    response={200: HistoryOut, **READ_ERRORS},
    summary="History",
)
def organisation_history(
    request: HttpRequest,
    code: OrgCode,
    measure: Annotated[
        list[MeasureCode],
        Query(
            min_length=1,
            max_length=MAX_MEASURES,
            description=f"One or more measure codes (at most {MAX_MEASURES}; repeats are read "
            "once).",
        ),
    ],
    site: Annotated[SiteCode | None, Query(description="A site code of the organisation.")] = None,
    since: Annotated[
        QueryTime | None, Query(description="Default: seven days before `until`.")
    ] = None,
    until: Annotated[QueryTime | None, Query(description="Default: now.")] = None,
) -> dict[str, Any]:
    """Current values of measures between two times, oldest first, for one organisation or site.

    404 unless the organisation is the token's own or shares something with it. Measures it
    does not share with you come back with `shared` false and no points; counts it shares as
    status only have no points either.

    Besides what this document states, the API checks what no schema can (422 on `since`):
    `since` not after `until`, and at most 400 days before it (one parameter against another;
    `until` is now when left out, and `since` seven days before `until`); and (422 on `site`)
    the site one of the organisation's (what is stored).
    """
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    until = until or timezone.now()
    since = since or until - DEFAULT_HISTORY
    if has_nul(code):
        raise Http404
    organisation = policy.get_organisation(viewer, code)
    site_code, site = site, None
    if site_code:
        site = policy.get_site(viewer, site_code)
        if site.organisation_id != organisation.pk:
            raise field_errors(
                "query", [("site", f"{site_code!r} is not a site of {organisation.code}")]
            )
    known = {m.code for m in catalogue_module.current().measures}
    problems = [("measure", f"unknown measure {m!r}") for m in measure if m not in known]
    if since > until:
        problems.append(("since", "since must not be after until"))
    elif until - since > MAX_HISTORY:
        problems.append(("since", f"ask for at most {MAX_HISTORY.days} days at a time"))
    if problems:
        raise field_errors("query", problems)
    measures = list(dict.fromkeys(measure))
    series, shared = queries.history(viewer, organisation, site, measures, since, until)
    return {
        "org_code": organisation.code,
        "site_code": site.code if site else None,
        "since": since,
        "until": until,
        "series": [
            {
                "measure": m,
                "shared": (a := shared.access[m]) is not None,
                "detail": a.detail if a else None,
                "delay_hours": a.delay_hours if a else None,
                "points": [
                    {"as_of": t, "value": v, "detail": shared.detail_of(m, t)} for t, v in points
                ],
            }
            for m, points in series.items()
        ],
    }


class LevelStatusOut(Schema):
    level: int | None = Field(..., description="OPEL 1 to 4; null when not known.")
    as_of: datetime = Field(..., description="When it was true (the report time).")
    source: str = Field(..., description="declared, or the profile code and version computed by.")


class EscalationStatusOut(Schema):
    declared: LevelStatusOut | None = Field(..., description="Null unless shared with you.")
    computed: LevelStatusOut | None = Field(..., description="Null unless shared with you.")


class OrganisationIdOut(Schema):
    id: str = Field(..., description="The ODS code.")
    name: str


class HospitalStatusOut(Schema):
    organisation: OrganisationIdOut
    last_update_time: datetime | None = Field(
        ..., description="The newest of the two levels' times (EDXL-HAVE's LastUpdateTime)."
    )
    escalation: EscalationStatusOut


@router.get(
    "/collaboratives/{slug}/status",
    response={200: list[HospitalStatusOut], **READ_ERRORS},
    summary="Members' status (EDXL-HAVE style)",
)
def collaborative_status(request: HttpRequest, slug: Slug) -> list[dict[str, Any]]:
    """Each member's escalation status in the shape of an OASIS EDXL-HAVE hospital status:
    the organisation, its last update time, and its declared and computed levels with their
    times, each null where the member does not share it with you. 404 unless the token's
    organisation is a member."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(slug):
        raise Http404
    collab = find_collaborative(viewer.organisation_ids, slug)
    members = members_of(collab)
    declared = policy.read_latest(viewer, None, {m.pk for m in members}, [escalation.DECLARED])
    said = {v.organisation_id: v for v in declared.values if v.site_id is None}
    levels = escalation.collaborative_levels(
        viewer,
        collab,
        members=members,
        declared={o: (v.value, v.as_of) for o, v in said.items() if v.value is not None},
    )
    out = []
    for m in members:
        d, s = said.get(m.pk), levels.members.get(m.pk)
        dec = {"level": _as_level(d.value), "as_of": d.as_of, "source": "declared"} if d else None
        comp = (
            {
                "level": s.computed.level,
                "as_of": s.computed.as_of,
                "source": f"{s.computed.profile.code} {s.computed.profile.version}",
            }
            if s
            else None
        )
        times = [x["as_of"] for x in (dec, comp) if x]
        out.append(
            {
                "organisation": {"id": m.code, "name": m.name},
                "last_update_time": max(times) if times else None,
                "escalation": {"declared": dec, "computed": comp},
            }
        )
    return out


def _as_level(value: float | None) -> int | None:
    return int(value) if value is not None else None
