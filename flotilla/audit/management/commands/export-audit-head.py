import json
from datetime import UTC

from django.core.management.base import BaseCommand
from django.utils import timezone

from flotilla.audit import chain
from flotilla.audit.models import AuditEvent, ChainHead


class Command(BaseCommand):
    help = (
        "Print the audit chain head as JSON (chain, seq, hash, at) to keep somewhere the "
        "database's administrators cannot write; `verify-audit --expect-head FILE` checks it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args, **opts):
        head = ChainHead.objects.filter(chain=AuditEvent.CHAIN).first()
        seq, hash_ = (head.seq, head.hash) if head else (0, chain.GENESIS)
        last = AuditEvent.objects.filter(seq=seq).values_list("at", flat=True).first()
        exported = {
            "chain": AuditEvent.CHAIN,
            "seq": seq,
            "hash": hash_,
            # When the head event was recorded (None for an empty chain), and when exported.
            "at": last.astimezone(UTC).isoformat() if last else None,
            "exported_at": timezone.now().astimezone(UTC).isoformat(),
        }
        text = json.dumps(exported, indent=2) + "\n"
        if opts.get("out"):
            with open(opts["out"], "w") as f:
                f.write(text)
        else:
            self.stdout.write(text, ending="")
