"""What the export commands share: which organisations to read, read as whom, and where the
document goes. Each command says only how its document is made (`document`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import members_of
from flotilla.organisations.models import Organisation
from flotilla.sharing import ledger, policy


class ExportCommand(BaseCommand):
    """Write a document of a collaborative's members, or of one organisation, exactly as the
    organisation named by --as may see it under the sharing grants in force; every read is on
    the access record of the organisation read, as "command <name>"."""

    #: The command's name, as the access record and the viewer's label give it.
    name = ""

    def add_arguments(self, parser: Any) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--collaborative", help="every member of this collaborative (slug)")
        which.add_argument("--organisation", metavar="ODS_CODE", help="this organisation")
        parser.add_argument(
            "--as",
            dest="as_organisation",
            metavar="ODS_CODE",
            required=True,
            help="read as this organisation, under the sharing grants it receives",
        )
        parser.add_argument("--out", help="file to write (default: standard output)")

    def document(
        self,
        viewer: policy.Viewer,
        organisations: list[Organisation],
        collaborative: Collaborative | None,
    ) -> bytes:
        raise NotImplementedError  # each command makes its own

    def handle(self, *args: Any, **opts: Any) -> None:
        reader = _organisation(opts["as_organisation"])
        viewer = policy.Viewer(
            label=f"command:{self.name} as {reader.code}",
            organisation_ids=frozenset({reader.pk}),
        )
        with ledger.collecting(f"command {self.name}"):
            collaborative = None
            if opts.get("collaborative"):
                slug = opts["collaborative"]
                collaborative = Collaborative.objects.filter(slug=slug).first()
                member = collaborative is not None and reader in members_of(collaborative)
                if collaborative is None or not member:
                    raise CommandError(f"{reader.code} is not a member of a collaborative {slug!r}")
                organisations = members_of(collaborative)
            else:
                organisation = _organisation(opts["organisation"])
                if not policy.readable(viewer, organisation.pk):
                    raise CommandError(f"{organisation.code} shares nothing with {reader.code}")
                organisations = [organisation]
            document = self.document(viewer, organisations, collaborative)
        if opts.get("out"):
            with open(opts["out"], "wb") as out:
                out.write(document)
        else:
            self.stdout.write(document.decode("utf-8"), ending="")


def _organisation(code: str) -> Organisation:
    found = Organisation.objects.filter(code=code.strip().upper()).first()
    if found is None:
        raise CommandError(f"no organisation {code!r}")
    return found
