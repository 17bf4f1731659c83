"""The access record's inbox holds one row per request, with the owners it read (ADR 0043).

Each row waiting when this runs held one owner's read; it becomes a request's row reading
that one owner, so nothing waiting is lost and each still becomes one access event. Going
back splits each request's row into one row per owner.
"""

import django.db.models.deletion
from django.db import migrations, models


def _checked_now(schema_editor):
    """On PostgreSQL, check the deferred foreign keys of the rows just written now: a table
    with checks still pending cannot be altered in the same transaction."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def to_requests(apps, schema_editor):
    PendingAccess = apps.get_model("sharing", "PendingAccess")
    rows = list(PendingAccess.objects.order_by("id"))
    for row in rows:
        row.reads = [[row.owner_id, row.groups]]
    PendingAccess.objects.bulk_update(rows, ["reads"], batch_size=1000)
    _checked_now(schema_editor)


def to_owners(apps, schema_editor):
    PendingAccess = apps.get_model("sharing", "PendingAccess")
    rows = list(PendingAccess.objects.order_by("id"))
    copy = ("at", "reader_user_id", "reader_token_id", "reader_label", "reader_organisations")
    split = [
        PendingAccess(
            owner_id=owner, groups=groups, what=row.what, **{k: getattr(row, k) for k in copy}
        )
        for row in rows
        for owner, groups in row.reads
    ]
    PendingAccess.objects.all().delete()
    PendingAccess.objects.bulk_create(split, batch_size=1000)
    _checked_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("organisations", "0001_initial"),
        ("sharing", "0004_policy_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="pendingaccess",
            name="reads",
            field=models.JSONField(default=list),
        ),
        migrations.AlterField(
            model_name="pendingaccess",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="organisations.organisation",
            ),
        ),
        migrations.RunPython(to_requests, to_owners),
        migrations.RemoveField(model_name="pendingaccess", name="owner"),
        migrations.RemoveField(model_name="pendingaccess", name="groups"),
    ]
