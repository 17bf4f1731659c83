"""``flotilla load-reference [--data-dir DIR]``: load England's regions, ICSs, trusts and sites."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.principals import Principal
from flotilla.organisations.reference import ReferenceDataError, load_reference


class Command(BaseCommand):
    help = "Load England's reference data (regions, ICSs, trusts, sites, mergers). Idempotent."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="folder holding reference/england/ (default: settings.DATA_DIR)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = options["data_dir"] or Path(settings.DATA_DIR)
        try:
            summary = load_reference(by=Principal.system("load-reference"), data_dir=data_dir)
        except ReferenceDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(summary, indent=2))
