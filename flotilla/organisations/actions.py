"""Every write to organisations and sites goes through here: one transaction each, audited."""

from __future__ import annotations

from typing import Any

from flotilla.audit import actions as audit
from flotilla.organisations.models import Organisation, Site


class OrganisationError(Exception):
    """An organisation or site that cannot be registered, with the reason in words."""


def _org_snapshot(o: Organisation) -> dict[str, Any]:
    return {
        "code": o.code,
        "name": o.name,
        "kind": o.kind,
        "region": o.region_id,
        "ics": o.ics_id,
        "postcode": o.postcode,
        "latitude": o.latitude,
        "longitude": o.longitude,
        "successor": o.successor_id,
        "closed_on": o.closed_on.isoformat() if o.closed_on else None,
    }


def _site_snapshot(s: Site) -> dict[str, Any]:
    return {
        "code": s.code,
        "name": s.name,
        "organisation": s.organisation_id,
        "postcode": s.postcode,
        "latitude": s.latitude,
        "longitude": s.longitude,
    }


def register_organisation(
    *, by: Any, code: str, name: str, kind: str, **fields: Any
) -> Organisation:
    """Create an organisation, or bring an existing one with this code up to date.

    Returns the organisation; writes an audit event only when something changed.
    """
    code = code.strip().upper()
    if not code:
        raise OrganisationError("An organisation needs a code")
    org: Organisation = audit.register(
        by=by,
        model=Organisation,
        key={"code": code},
        values={"name": name, "kind": kind, **fields},
        snapshot=_org_snapshot,
        noun="organisations.organisation",
        organisation_of=lambda o: o.pk,
    )
    return org


def register_site(
    *, by: Any, code: str, name: str, organisation: Organisation, **fields: Any
) -> Site:
    """Create a site, or bring an existing one with this code up to date."""
    site: Site = audit.register(
        by=by,
        model=Site,
        key={"code": code.strip().upper()},
        values={"name": name, "organisation": organisation, **fields},
        snapshot=_site_snapshot,
        noun="organisations.site",
        organisation_of=lambda s: s.organisation_id,
    )
    return site
