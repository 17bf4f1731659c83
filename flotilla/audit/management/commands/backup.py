from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from flotilla.audit.backup import BackupError, backup, table_counts


class Command(BaseCommand):
    help = (
        "Back up the whole database to one file (SQLite: the online backup API; PostgreSQL: "
        "pg_dump's custom format), and print the rows it holds per table."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the file to write (replaced if it exists)")

    def handle(self, *args, **options):
        path = Path(options["path"])
        try:
            backup(path)
        except BackupError as e:
            raise CommandError(str(e)) from e
        counts = table_counts()
        self.stdout.write(
            f"Backed up {sum(counts.values()):,} rows in {len(counts)} tables to {path} "
            f"({path.stat().st_size:,} bytes)."
        )
