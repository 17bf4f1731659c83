"""The one policy point: whose data may this viewer read, how finely, and how fresh?

Every read of an organisation's data by anyone other than its own people goes through this
package: pages, API responses, exports, aggregates, background jobs and notifications. It has
two parts:

- `rules`: pure functions (no database) that say what one value looks like to a viewer holding
  some accesses: the detail, the delay, the RAG band, how several grants combine. Tested on
  their own (`tests/unit/sharing`).
- `engine`: the database reads. It finds the grants in force that reach a viewer, reads the
  values as at each grant's delay, applies the rules, and notes every read on the owner's
  access record.
- `shared`: an answer worked out for one viewer, served for a few seconds to the others who
  may see exactly the same, its reads noted in each one's name (ADR 0038); for a live read
  of a collaborative's members, everyone who may see the same of them, the answer worked out
  as a stand-in viewer holding just that (`seen_of`, `standing_in`, ADR 0039).

Import this package, never the engine's helpers: the names below are the whole interface.
"""

from __future__ import annotations

from datetime import datetime

from flotilla.organisations.models import Organisation, Site
from flotilla.sharing.policy import rules
from flotilla.sharing.policy.engine import (
    Audience,
    Derived,
    History,
    Reading,
    Shared,
    access_map,
    acting_for,
    audiences,
    collaborative_body,
    freeze,
    get_organisation,
    get_site,
    grants_in_force,
    grants_to,
    group_access,
    on_the_record,
    organisation_views,
    platform_viewer,
    read_derived,
    read_frozen,
    read_history,
    read_latest,
    readable,
    remembering,
    seen_of,
    standing_in,
    viewer_of,
)
from flotilla.sharing.policy.rules import Viewer
from flotilla.sharing.policy.shared import policy_version, shared_answer

__all__ = [
    "Audience",
    "Derived",
    "History",
    "Reading",
    "Shared",
    "Viewer",
    "access_map",
    "acting_for",
    "audiences",
    "collaborative_body",
    "freeze",
    "get_organisation",
    "get_site",
    "grants_in_force",
    "grants_to",
    "group_access",
    "may_see",
    "on_the_record",
    "organisation_views",
    "platform_viewer",
    "policy_version",
    "read_derived",
    "read_frozen",
    "read_history",
    "read_latest",
    "readable",
    "remembering",
    "rules",
    "seen_of",
    "shared_answer",
    "standing_in",
    "viewer_of",
]


def may_see(
    viewer: Viewer,
    organisation: Organisation,
    measure: str,
    *,
    site: Site | None = None,
    at: datetime | None = None,
) -> Shared | None:
    """What `viewer` may see of one value: `organisation`'s latest `measure` (of `site`, or
    of the organisation as a whole) as at `at`, already coarsened and delayed; None when it
    is not shared with the viewer, not yet visible, or never reported.

    For alerts, aid matching and notifications, which ask about one figure at a time. The
    read goes on the owner's access record like any other.
    """
    reading = read_latest(viewer, at, organisation_ids={organisation.pk}, measures=[measure])
    site_id = site.pk if site is not None else None
    for value in reading.values:
        if value.site_id == site_id:
            return value
    return None
