"""Every write to organisations and sites goes through here: one transaction each, audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from flotilla.audit import actions as audit
from flotilla.organisations.models import (
    Organisation,
    OrganisationAlias,
    Region,
    Site,
    name_key,
)


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


def register_region(*, by: Any, code: str, name: str) -> Region:
    """Create a region, or bring the name of an existing one with this code up to date.

    For registries beyond NHS England's seven regions (Wales, a US state): the reference
    loader (`reference.py`) names England's from its own table.
    """
    code = code.strip().upper()
    if not code:
        raise OrganisationError("A region needs a code")
    region: Region = audit.register(
        by=by,
        model=Region,
        key={"code": code},
        values={"name": " ".join(name.split()) or code},
        snapshot=lambda r: {"code": r.code, "name": r.name},
        noun="organisations.region",
    )
    return region


def add_organisation_alias(*, by: Any, organisation: Organisation, name: str) -> OrganisationAlias:
    """Record that `organisation` also goes by `name`; nothing is written if it already does.

    An alias that reads the same as the organisation's own name is not kept (it adds
    nothing). The same alias may name two organisations (a name shared by two trusts): a
    file that uses it is then refused as ambiguous, row by row, rather than guessed at.
    """
    key = name_key(name)
    if not key:
        raise OrganisationError("An alias needs a name with a letter or a digit in it")
    with transaction.atomic():
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        existing = OrganisationAlias.objects.filter(organisation=locked, key=key).first()
        if existing is not None or key == name_key(locked.name):
            return existing or OrganisationAlias(organisation=locked, name=name, key=key)
        alias = OrganisationAlias.objects.create(
            organisation=locked, name=" ".join(name.split()), key=key
        )
        audit.record(
            by=by,
            action="organisations.alias_added",
            obj=alias,
            organisation_id=locked.pk,
            after={"organisation": locked.pk, "name": alias.name, "key": key},
        )
    return alias
