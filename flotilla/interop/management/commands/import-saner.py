import json

from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.principals import Principal
from flotilla.interop import saner
from flotilla.organisations.models import Organisation
from flotilla.reporting.validation import ReportRejected


class Command(BaseCommand):
    help = (
        "Store a FHIR SANER Bundle of MeasureReports (or one MeasureReport) as a report of the "
        "organisation named by --as, checked as POST /api/saner checks it; nothing is stored "
        "if anything is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON document")
        parser.add_argument(
            "--as",
            dest="as_organisation",
            metavar="ODS_CODE",
            required=True,
            help="the organisation the figures are of (its sites are its own)",
        )

    def handle(self, *args, **opts):
        code = opts["as_organisation"].strip().upper()
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            raise CommandError(f"no organisation {code!r}")
        try:
            with open(opts["file"], encoding="utf-8") as given:
                document = json.load(given)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc}") from None
        try:
            result = saner.import_document(
                by=Principal.system("import-saner"),
                organisation=organisation,
                document=document,
                reference=f"FHIR SANER: {opts['file']}"[:300],
            )
        except ReportRejected as exc:
            lines = [f"{p.field or '(document)'}: {p.message}" for p in exc.problems]
            raise CommandError("nothing was stored:\n" + "\n".join(lines)) from None
        self.stdout.write(
            f"{organisation.code}: {result.created} created, {result.revised} revised, "
            f"{result.unchanged} unchanged"
        )
