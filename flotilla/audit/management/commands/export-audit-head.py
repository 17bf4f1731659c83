import json
from datetime import UTC

from django.core.management.base import BaseCommand
from django.utils import timezone

from flotilla.audit import chain
from flotilla.audit.actions import chain_waiting
from flotilla.audit.models import ChainedRecord, ChainHead, chained_models


def head_of(model: type[ChainedRecord]) -> dict:
    head = ChainHead.objects.filter(chain=model.CHAIN).first()
    seq, hash_ = (head.seq, head.hash) if head else (0, chain.GENESIS)
    last = model.objects.filter(seq=seq).values_list("at", flat=True).first()
    return {
        "chain": model.CHAIN,
        "seq": seq,
        "hash": hash_,
        # When the head event was recorded (None for an empty chain).
        "at": last.astimezone(UTC).isoformat() if last else None,
    }


class Command(BaseCommand):
    help = (
        "Link the audit events waiting to be chained, then print the heads of the audit and "
        "access chains as JSON to keep somewhere the "
        "database's administrators cannot write; `verify-audit --expect-head FILE` checks them. "
        'The top-level chain, seq, hash and at are the audit chain\'s; "heads" lists every chain.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args, **opts):
        # The exported head then covers every audit event recorded before it (ADR 0040).
        chain_waiting()
        heads = [head_of(model) for model in chained_models().values()]
        audit = next(head for head in heads if head["chain"] == "audit")
        exported = {
            **audit,
            "exported_at": timezone.now().astimezone(UTC).isoformat(),
            "heads": heads,
        }
        text = json.dumps(exported, indent=2) + "\n"
        if opts.get("out"):
            with open(opts["out"], "w") as f:
                f.write(text)
        else:
            self.stdout.write(text, ending="")
