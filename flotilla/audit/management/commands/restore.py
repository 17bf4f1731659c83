from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.backup import BackupError, restore, table_counts


class Command(BaseCommand):
    help = (
        "Restore a backup made by `flotilla backup` into the configured database, which must "
        "hold no tables; then print the rows per table and verify the audit chains."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a file written by `flotilla backup`")

    def handle(self, *args, **options):
        path = Path(options["path"])
        try:
            restore(path)
        except BackupError as e:
            raise CommandError(str(e)) from e
        counts = table_counts()
        self.stdout.write(f"Restored {sum(counts.values()):,} rows in {len(counts)} tables:")
        for table, n in counts.items():
            if n:
                self.stdout.write(f"  {table}: {n:,}")
        call_command("verify-audit", stdout=self.stdout, stderr=self.stderr)
