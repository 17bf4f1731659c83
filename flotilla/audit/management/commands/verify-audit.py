import json

from django.core.management.base import BaseCommand, CommandError

from flotilla.accounts import integrity as accounts_integrity
from flotilla.audit import chain
from flotilla.audit.models import ChainedRecord, ChainHead, chained_models
from flotilla.authz import integrity as authz_integrity
from flotilla.sharing import integrity as sharing_integrity

#: What decides who sees what, each checked against the audit record: (plural, check).
STATE = (
    ("grants", sharing_integrity.check),
    ("memberships", authz_integrity.check_memberships),
    ("API tokens", authz_integrity.check_tokens),
    ("linked sign-in accounts", accounts_integrity.check_identities),
    ("second factors", accounts_integrity.check_second_factors),
)


def links(model: type[ChainedRecord]):
    """Every row of `model` in seq order, one chunk at a time (memory stays flat)."""
    fields = model.CHAINED_FIELDS
    rows = (
        model.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values_list("id", "seq", "prev_hash", "hash", *fields)
        .iterator(chunk_size=2000)
    )
    for id_, seq, prev_hash, hash_, *values in rows:
        yield chain.Link(seq, dict(zip(fields, values, strict=True)), prev_hash, hash_, f"id {id_}")


def read_exported_heads(path: str) -> dict[str, chain.Anchor]:
    """Chain name → its exported head, from a file written by export-audit-head.

    The top-level keys are the audit chain's head (the format before there were other
    chains); "heads" lists the head of every chain.
    """
    try:
        with open(path) as f:
            exported = json.load(f)
        if exported.get("chain", "audit") != "audit":
            raise CommandError(f"{path} is the head of chain {exported['chain']!r}, not 'audit'")
        heads = exported.get("heads") or [{"chain": "audit", **exported}]
        return {
            str(head["chain"]): chain.Anchor(
                int(head["seq"]), str(head["hash"]), "the exported head"
            )
            for head in heads
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CommandError(f"cannot read an exported head from {path}: {e}") from e


def check(model: type[ChainedRecord], expected: chain.Anchor | None) -> tuple[str | None, str]:
    """(the first problem or None, a summary line) for the chain of `model`."""
    head = ChainHead.objects.filter(chain=model.CHAIN).first()
    if head is None:
        if model.objects.exists():
            return "the chain head is missing (deleted)", ""
        head = ChainHead(chain=model.CHAIN, seq=0, hash=chain.GENESIS)
    anchors = [chain.Anchor(head.seq, head.hash, "the chain head")]
    if expected is not None:
        anchors.append(expected)
    verdict = chain.verify(links(model), anchors)
    if not verdict.ok:
        return verdict.problem, ""
    if verdict.last_seq > head.seq:
        # Rows committed while we read are fine; rows the head has never seen are not.
        head.refresh_from_db()
        if verdict.last_seq > head.seq:
            return (
                f"the chain goes on past its head (seq {head.seq}) to seq "
                f"{verdict.last_seq}: events were added without moving the head"
            ), ""
    summary = f"{verdict.count} events verified, head {verdict.last_hash}"
    waiting, oldest = model.waiting()
    if waiting:
        # Not yet chained, so not yet protected: chained within a minute by the schedule.
        summary += (
            f"; {waiting} {model.WAITING[waiting != 1]} recorded but not yet chained "
            f"(the oldest at {oldest:%Y-%m-%d %H:%M:%S %Z})"
        )
    return None, summary


class Command(BaseCommand):
    help = (
        "Check the hash chains of audit and access events: every event's hash, its link to the "
        "one before, no gaps in seq, and the chain head; then that every grant, membership "
        "(and its role) and API token is as its audit events leave it. Exits 1 naming the "
        "first bad event of each broken chain and every row that differs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chain",
            choices=[*chained_models(), "all"],
            default="all",
            help="the chain to check (default: all, and then the grants, memberships and "
            "tokens against the audit record)",
        )
        parser.add_argument(
            "--expect-head",
            metavar="FILE",
            help="heads written by export-audit-head; each chain must still pass through its own",
        )

    def handle(self, *args, **opts):
        models = chained_models()
        every_chain = opts.get("chain", "all") == "all"
        if not every_chain:
            models = {opts["chain"]: models[opts["chain"]]}
        expected = read_exported_heads(opts["expect_head"]) if opts.get("expect_head") else {}
        problems = []
        for name, model in models.items():
            problem, summary = check(model, expected.get(name))
            if problem:
                problems.append(f"{name} chain: {problem}")
            else:
                self.stdout.write(f"{name} chain: {summary}")
        for plural, check_state in STATE if every_chain else ():
            checked, differences = check_state()
            problems += [str(d) for d in differences]
            if not differences:
                self.stdout.write(f"{plural}: {checked} as the audit record says")
        if problems:
            raise CommandError("\n".join(problems))
