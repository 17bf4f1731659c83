"""``flotilla load-registry FILE``: add organisations, sites and aliases from a reference file.

The file's layout is described in `flotilla.organisations.registry_file` and
docs/interoperability.md. Whole or nothing; loading the same file again changes nothing.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.principals import Principal
from flotilla.organisations.registry_file import RegistryFileError, load_registry_file


class Command(BaseCommand):
    help = "Add organisations and sites (outside England, say) from a registry CSV. Idempotent."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            summary = load_registry_file(by=Principal.system("load-registry"), path=path)
        except RegistryFileError as exc:
            lines = [f"{path.name}: rejected, nothing loaded"] + [f"  {p}" for p in exc.problems]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(json.dumps(summary, indent=2))
