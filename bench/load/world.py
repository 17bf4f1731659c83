"""The people and systems of the load test, added to a database the demo was loaded into
(`flotilla load-demo`), through the product's own actions.

    DATABASE_URL=postgres://.../flotilla_load_... .venv/bin/python bench/load/world.py OUT.json

For each member trust of the demo collaborative: an organisation admin (who issues the
tokens, as the API tokens page would), a reporter who signs in and reports by the form, a
submit token for the trust's own system and a read token. The commissioner (the system
coordination centre, which does not report) gets a read token and keeps its demo login
(`demo-system`) for the dashboard. Writes what the load test needs as JSON: the
collaborative, each organisation's logins, token secrets and newest figures (the starting
point of its reports). The file holds secrets: the driver keeps it in its scratch directory
and deletes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PASSWORD = "load-test-password-2026"  # a throwaway database's people
#: The figures a trust's system sends in each API report (when the trust has them).
API_MEASURES = (
    "ga_open",
    "ga_occupied",
    "cc_adult_open",
    "cc_adult_occupied",
    "handover_30_60",
    "handover_over_60",
    "opel_declared",
)


def main(out: Path) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flotilla.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import django

    django.setup()
    from flotilla.audit.principals import Principal
    from flotilla.authz import actions as authz
    from flotilla.authz.models import Role, TokenScope
    from flotilla.collaboratives.models import Collaborative
    from flotilla.collaboratives.queries import members_of
    from flotilla.demo.loader import DEMO_PASSWORD
    from flotilla.organisations.models import OrganisationKind
    from flotilla.reporting.actions import latest_observations

    by = Principal.system("bench-load")
    collab = Collaborative.objects.get(slug__startswith="demo-")
    organisations = []
    for org in members_of(collab):
        code = org.code.lower()
        admin = authz.create_user(by=by, username=f"load-admin-{code}", password=PASSWORD)
        authz.set_membership(by=by, user=admin, organisation=org, role=Role.ORG_ADMIN)
        _, read = authz.issue_token(
            by=admin, organisation=org, name="dashboard feed", scope=TokenScope.READ
        )
        entry = {"code": org.code, "kind": org.kind, "read": read}
        if org.kind == OrganisationKind.COMMISSIONER:
            entry["login"] = {"username": "demo-system", "password": DEMO_PASSWORD}
        else:
            reporter = authz.create_user(by=by, username=f"load-reporter-{code}", password=PASSWORD)
            authz.set_membership(by=by, user=reporter, organisation=org, role=Role.REPORTER)
            _, submit = authz.issue_token(
                by=admin, organisation=org, name="EPR feed", scope=TokenScope.SUBMIT
            )
            latest = latest_observations(organisation_id=org.pk, site_id=None)
            entry["login"] = {"username": reporter.username, "password": PASSWORD}
            entry["submit"] = submit
            entry["figures"] = {
                m: latest[m].value
                for m in API_MEASURES
                if m in latest and latest[m].value is not None
            }
        organisations.append(entry)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"collaborative": collab.slug, "organisations": organisations}, f, indent=1)
    reporting = sum(1 for o in organisations if "submit" in o)
    print(f"{len(organisations)} organisations ({reporting} reporting) in {collab.slug}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
