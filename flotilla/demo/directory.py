"""The demo's on-call directories: who to call at each member that has a demo coordinator
or admin to keep it, added through the directory actions as that person.

The numbers are in the ranges Ofcom keeps for drama (0191 498 0000 to 0999), and the
addresses end in `.example`: none reaches anyone.
"""

from __future__ import annotations

from typing import Any

from flotilla.authz.checks import people_with
from flotilla.authz.permissions import Perm
from flotilla.directory import actions as directory
from flotilla.organisations.models import Organisation, OrganisationKind, Site

#: (role, route, contact pattern, hours, notes) of an acute trust's directory; {n} is the
#: trust's own block of numbers.
ACUTE = (
    (
        "Site manager on call",
        "phone",
        "0191 498 0{n}01",
        "24/7",
        "For beds, transfers and mutual aid out of hours.",
    ),
    (
        "Patient flow coordinator",
        "bleep",
        "{n}42",
        "08:00–20:00 every day",
        "Via switchboard: ask them to bleep the patient flow coordinator.",
    ),
    (
        "Critical care consultant on call",
        "phone",
        "0191 498 0{n}10 ext 2200",
        "24/7",
        "Critical care transfers: call before sending.",
    ),
    (
        "Executive director on call",
        "phone",
        "0191 498 0{n}99",
        "24/7",
        "At OPEL 3 and 4, or when the site manager cannot decide.",
    ),
)
#: The system coordination centre's.
SYSTEM = (
    ("System coordination centre", "email", "scc@{code}.example", "08:00–20:00 every day", ""),
    (
        "Tactical commander on call (system)",
        "phone",
        "0191 498 0900",
        "24/7",
        "Out of hours, for decisions across the system.",
    ),
    ("System coordination centre radio", "radio", "Channel 4, call sign Vale Control", "24/7", ""),
)


def _keeper(org: Organisation) -> Any:
    """A demo person who keeps `org`'s directory, or None."""
    found = [
        u for u in people_with(Perm.MANAGE_DIRECTORY, org.pk) if u.username.startswith("demo-")
    ]
    return found[0] if found else None


def load(organisations: list[Organisation]) -> int:
    """Directories for the organisations with a demo keeper; how many entries were added."""
    added = 0
    for n, org in enumerate(organisations):
        by = _keeper(org)
        if by is None:
            continue
        if org.kind == OrganisationKind.COMMISSIONER:
            rows = [
                (r, route, c.format(code=org.code.lower()), h, x) for r, route, c, h, x in SYSTEM
            ]
        else:
            rows = [(r, route, c.format(n=n % 10), h, x) for r, route, c, h, x in ACUTE]
        site = Site.objects.filter(organisation=org).order_by("code").first()
        for i, (role, route, contact, hours, notes) in enumerate(rows):
            directory.add_entry(
                by=by,
                organisation=org,
                role=role,
                route=route,
                contact=contact,
                hours=hours,
                notes=notes,
                # The site manager is at the main site; the rest are the trust's.
                site=site if i == 0 and org.kind != OrganisationKind.COMMISSIONER else None,
            )
            added += 1
    return added
