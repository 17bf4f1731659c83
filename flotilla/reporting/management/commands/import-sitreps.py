"""``flotilla import-sitreps FILE... [--on-conflict=reject|last] [--dry-run] [--format=…]
[--mapping MAPPING.toml]``.

Imports each file whole or not at all (see docs/import-formats.md). With ``--mapping`` the
files are read through that declarative mapping (a capacity file in another layout; see
docs/interoperability.md), and organisations or sites the mapping says to register are
registered. Exits with an error
listing every problem (row, column, reason) if any file was rejected; the files before it
stay imported.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.principals import Principal
from flotilla.formatting import plural
from flotilla.reporting.importers import ON_CONFLICT_CHOICES
from flotilla.reporting.importers.mapped import MappingError, load_mapping
from flotilla.reporting.imports import FORMATS, ImportRejected, import_file

#: How many problems to print per rejected file before "… and N more".
MAX_PROBLEMS = 200


class Command(BaseCommand):
    help = (
        "Import NHS England sitrep files (or the long-format template), each whole or not at all."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument(
            "--on-conflict",
            choices=ON_CONFLICT_CHOICES,
            default="reject",
            help="duplicate rows that disagree: reject the file (default) or keep the last",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report, store nothing"
        )
        parser.add_argument("--format", choices=FORMATS, default="auto", dest="fmt")
        parser.add_argument(
            "--mapping",
            type=Path,
            default=None,
            metavar="MAPPING",
            help="read the files through this mapping (TOML; see flotilla/reporting/mappings)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        by = Principal.system("import-sitreps")
        failures: list[str] = []
        mapping = None
        if options["mapping"] is not None:
            if options["fmt"] not in ("auto", "mapped"):
                raise CommandError("--mapping reads files in the mapping's layout: no --format")
            try:
                mapping = load_mapping(options["mapping"])
            except MappingError as exc:
                raise CommandError(f"the mapping cannot be used: {exc}") from exc
        elif options["fmt"] == "mapped":
            raise CommandError("--format=mapped needs --mapping MAPPING.toml")
        for path in options["files"]:
            if not path.is_file():
                failures.append(f"{path}: no such file")
                continue
            try:
                outcome = import_file(
                    by=by,
                    path_or_stream=path,
                    name=path.name,
                    fmt=options["fmt"],
                    on_conflict=options["on_conflict"],
                    dry_run=options["dry_run"],
                    mapping=mapping,
                )
            except ImportRejected as exc:
                count = plural(len(exc.problems), "problem")
                lines = [f"{path.name}: rejected, nothing stored ({count})"]
                lines += [f"  {p}" for p in exc.problems[:MAX_PROBLEMS]]
                if len(exc.problems) > MAX_PROBLEMS:
                    lines.append(f"  … and {len(exc.problems) - MAX_PROBLEMS} more")
                failures.append("\n".join(lines))
                continue
            for line in outcome.summary_lines():
                self.stdout.write(line)
        if failures:
            raise CommandError("\n".join(failures))
