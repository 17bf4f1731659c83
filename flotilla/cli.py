"""The `flotilla` command: every Django management command, under the project's name."""

import os
import sys

#: Before the first release the migrations were started again when `registry` was split into
#: `organisations` and `collaboratives` (ADR 0012). A database made before then cannot be
#: migrated forward; it is told so in words instead of with a migration-graph error.
PRE_SPLIT_MESSAGE = (
    "This database was created by a development version of Flotilla from before the "
    "organisations/collaboratives split (ADR 0012) and cannot be migrated. Load it again: "
    "`make clean && make run` for the demo, or create a new database and `flotilla migrate`."
)


def refuse_pre_split_database() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            return
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = 'registry'")
        if cursor.fetchone():
            sys.exit(PRE_SPLIT_MESSAGE)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flotilla.settings")
    from django.core.management import execute_from_command_line

    if sys.argv[1:2] == ["migrate"]:
        import django

        django.setup()
        refuse_pre_split_database()
    execute_from_command_line(["flotilla", *sys.argv[1:]])


if __name__ == "__main__":
    main()
