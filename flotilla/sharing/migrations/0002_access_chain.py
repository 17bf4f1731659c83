"""Chain access events by hash (ADR 0008): seq, prev_hash and hash, and the "access" head.

Events already recorded are chained here in id order, so an old database verifies.
"""

import hashlib
import json
from datetime import UTC, datetime

from django.db import migrations, models

GENESIS = "0" * 64

# Frozen copies of flotilla.sharing.models.CHAINED_FIELDS and flotilla.audit.chain: a
# migration must give the same hashes whatever the code looks like later.
CHAINED_FIELDS = (
    "at",
    "owner_id",
    "reader_user_id",
    "reader_token_id",
    "reader_label",
    "reader_organisations",
    "groups",
    "what",
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
    AccessEvent = apps.get_model("sharing", "AccessEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    seq, prev_hash, batch = 0, GENESIS, []
    for event in AccessEvent.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = link_hash(seq, {f: getattr(event, f) for f in CHAINED_FIELDS}, prev_hash)
        prev_hash = event.hash
        batch.append(event)
        if len(batch) == 2000:
            AccessEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
            batch = []
    AccessEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
    ChainHead.objects.create(chain="access", seq=seq, hash=prev_hash)


def remove_head(apps, schema_editor):
    apps.get_model("audit", "ChainHead").objects.filter(chain="access").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_hash_chain"),
        ("sharing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="accessevent",
            name="seq",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="accessevent",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="accessevent",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, remove_head),
        migrations.AlterField(
            model_name="accessevent",
            name="seq",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.AddConstraint(
            model_name="accessevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("seq__gte", 1)), name="accessevent_seq_from_1"
            ),
        ),
        migrations.AddConstraint(
            model_name="accessevent",
            constraint=models.UniqueConstraint(
                fields=("prev_hash",), name="accessevent_one_successor"
            ),
        ),
    ]
