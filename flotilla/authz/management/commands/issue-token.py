"""``flotilla issue-token --org CODE --name NAME --scope submit|read|sharing --by USERNAME``.

Prints the secret once; only its hash is stored, so it cannot be shown again.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from flotilla.authz import actions
from flotilla.authz.models import TokenScope
from flotilla.organisations.models import Organisation


class Command(BaseCommand):
    help = "Issue an API token for an organisation and print its secret (shown only once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--org", required=True, help="organisation code, e.g. RN1")
        parser.add_argument("--name", required=True, help="what uses the token, e.g. 'EPR feed'")
        parser.add_argument("--scope", required=True, choices=TokenScope.values)
        parser.add_argument(
            "--by", required=True, help="username of an admin of the organisation (audited)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        organisation = Organisation.objects.filter(code=opts["org"].strip().upper()).first()
        if organisation is None:
            raise CommandError(f"No organisation with code {opts['org']!r}")
        user = get_user_model().objects.filter(username=opts["by"]).first()
        if user is None:
            raise CommandError(f"No user {opts['by']!r}")
        try:
            token, secret = actions.issue_token(
                by=user, organisation=organisation, name=opts["name"], scope=opts["scope"]
            )
        except (PermissionDenied, ValueError) as e:
            raise CommandError(str(e)) from e
        self.stderr.write(
            f"Issued {token} for {organisation.code}. Copy the secret now; it is not stored "
            "and cannot be shown again."
        )
        self.stdout.write(secret)
