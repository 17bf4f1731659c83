"""Chain audit events by hash (ADR 0008): seq, prev_hash and hash, and the chain head.

Events already recorded are chained here in id order, so an old database verifies.
"""

import hashlib
import json
from datetime import UTC, datetime

from django.db import migrations, models

GENESIS = "0" * 64

# Frozen copies of flotilla.audit.models.CHAINED_FIELDS and flotilla.audit.chain: a
# migration must give the same hashes whatever the code looks like later.
CHAINED_FIELDS = (
    "at",
    "actor_user_id",
    "actor_token_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "organisation_id",
    "before",
    "after",
)


def _encode(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"cannot chain a {type(value).__name__}: {value!r}")


def link_hash(seq, payload, prev_hash):
    body = {"seq": seq, "payload": payload, "prev_hash": prev_hash}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_encode)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    seq, prev_hash, batch = 0, GENESIS, []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = link_hash(seq, {f: getattr(event, f) for f in CHAINED_FIELDS}, prev_hash)
        prev_hash = event.hash
        batch.append(event)
        if len(batch) == 2000:
            AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
            batch = []
    AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
    ChainHead.objects.create(chain="audit", seq=seq, hash=prev_hash)


def remove_heads(apps, schema_editor):
    apps.get_model("audit", "ChainHead").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChainHead",
            fields=[
                ("chain", models.CharField(max_length=50, primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("seq__gte", 0)), name="chainhead_seq_not_negative"
                    )
                ],
            },
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, remove_heads),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["seq"]},
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("seq__gte", 1)), name="auditevent_seq_from_1"
            ),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("prev_hash",), name="auditevent_one_successor"
            ),
        ),
    ]
