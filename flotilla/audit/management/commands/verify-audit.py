import json

from django.core.management.base import BaseCommand, CommandError

from flotilla.audit import chain
from flotilla.audit.models import CHAINED_FIELDS, AuditEvent, ChainHead


def links():
    """Every audit event in seq order, one chunk at a time (memory stays flat)."""
    rows = (
        AuditEvent.objects.order_by("seq")
        .values_list("id", "seq", "prev_hash", "hash", *CHAINED_FIELDS)
        .iterator(chunk_size=2000)
    )
    for id_, seq, prev_hash, hash_, *fields in rows:
        yield chain.Link(
            seq, dict(zip(CHAINED_FIELDS, fields, strict=True)), prev_hash, hash_, f"id {id_}"
        )


def read_exported_head(path: str) -> chain.Anchor:
    try:
        with open(path) as f:
            exported = json.load(f)
        if exported.get("chain", AuditEvent.CHAIN) != AuditEvent.CHAIN:
            raise CommandError(f"{path} is the head of chain {exported['chain']!r}, not 'audit'")
        return chain.Anchor(int(exported["seq"]), str(exported["hash"]), "the exported head")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CommandError(f"cannot read an exported head from {path}: {e}") from e


class Command(BaseCommand):
    help = (
        "Check the audit hash chain: every event's hash, its link to the one before, no gaps "
        "in seq, and the chain head. Exits 1 naming the first bad event."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            metavar="FILE",
            help="a head written by export-audit-head; the chain must still pass through it",
        )

    def handle(self, *args, **opts):
        head = ChainHead.objects.filter(chain=AuditEvent.CHAIN).first()
        if head is None:
            if AuditEvent.objects.exists():
                raise CommandError("the audit chain head is missing (deleted)")
            head = ChainHead(chain=AuditEvent.CHAIN, seq=0, hash=chain.GENESIS)
        anchors = [chain.Anchor(head.seq, head.hash, "the chain head")]
        if opts.get("expect_head"):
            anchors.append(read_exported_head(opts["expect_head"]))
        verdict = chain.verify(links(), anchors)
        if not verdict.ok:
            raise CommandError(verdict.problem)
        if verdict.last_seq > head.seq:
            # Events committed while we read are fine; events the head has never seen are not.
            head.refresh_from_db()
            if verdict.last_seq > head.seq:
                raise CommandError(
                    f"the chain goes on past its head (seq {head.seq}) to seq "
                    f"{verdict.last_seq}: events were added without moving the head"
                )
        self.stdout.write(f"{verdict.count} events verified, head {verdict.last_hash}")
