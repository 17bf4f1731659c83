"""``flotilla remove-second-factor USERNAME --reason TEXT``: for someone who lost both their
phone and their recovery codes (ADR 0031).

Removes the person's authenticator app and recovery codes, audited as the operator with the
reason given. If they must pass a second factor (an admin), they are asked to set up a new app
the next time they sign in, with their password: check who is asking before running this.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from flotilla.accounts import actions
from flotilla.audit.principals import Principal


class Command(BaseCommand):
    help = "Remove a person's authenticator app and recovery codes (audited)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--reason",
            required=True,
            help="why, for the audit record, e.g. 'phone lost; identity checked by phone call'",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        reason = opts["reason"].strip()
        if not reason:
            raise CommandError("Give a reason: it is kept in the audit record.")
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"No user {opts['username']!r}")
        removed = actions.remove_second_factor(
            by=Principal.system("operator"), user=user, reason=reason
        )
        if not removed:
            raise CommandError(f"{user.get_username()} has no second factor to remove.")
        self.stdout.write(
            f"Removed {user.get_username()}'s authenticator app and recovery codes. "
            "They set up a new app the next time they sign in, if they must have one."
        )
