import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import members_of
from flotilla.organisations.models import Organisation
from flotilla.picture.export import rows_as_at, write_rows
from flotilla.sharing import ledger, policy


class Command(BaseCommand):
    help = (
        "Write the picture as at a moment: the latest value of each measure for each "
        "organisation and site (columns org_code, site_code, measure, value, as_of, detail). "
        "With --as, exactly what that organisation may see under the grants in force, put on "
        "the access record of every organisation read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", required=True, help="ISO 8601 time, e.g. 2026-01-05T08:00Z")
        parser.add_argument("--format", default="csv", choices=["csv"])
        parser.add_argument("--collaborative", help="only this collaborative's members (slug)")
        parser.add_argument("--out", help="file to write (default: standard output)")
        parser.add_argument(
            "--as",
            dest="as_organisation",
            metavar="ODS_CODE",
            help="read as this organisation, under the sharing grants it receives",
        )

    def handle(self, *args, **opts):
        at = parse_datetime(opts["at"])
        if at is None:
            raise CommandError(f"--at {opts['at']!r} is not an ISO 8601 date and time")
        if timezone.is_naive(at):
            at = timezone.make_aware(at)
        viewer = policy.platform_viewer("export command")
        if opts.get("as_organisation"):
            code = opts["as_organisation"].upper()
            org = Organisation.objects.filter(code=code).first()
            if org is None:
                raise CommandError(f"no organisation {code!r}")
            viewer = policy.Viewer(
                label=f"command:export as {org.code}", organisation_ids=frozenset({org.pk})
            )
        org_ids = None
        if opts.get("collaborative"):
            collab = Collaborative.objects.filter(slug=opts["collaborative"]).first()
            if collab is None:
                raise CommandError(f"no collaborative {opts['collaborative']!r}")
            members = members_of(collab)
            org_ids = {o.pk for o in members}
        out = open(opts["out"], "w", newline="") if opts.get("out") else sys.stdout  # noqa: SIM115
        try:
            with ledger.collecting(f"command export --at {at.isoformat()}"):
                write_rows(out, rows_as_at(viewer, at, org_ids))
        finally:
            if out is not sys.stdout:
                out.close()
