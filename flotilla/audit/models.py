"""The audit record: one row per change of state, written in the same transaction.

Events form a hash chain (see `chain.py` and ADR 0008): each stores its place (`seq`), the
hash of the event before it and a hash over its own content, so that `flotilla verify-audit`
can tell when one was changed, deleted or moved. `ChainedRecord` is that shape for any model
(the access record is the "access" chain).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone

from flotilla.audit import chain

#: The recorded fields covered by an event's hash, besides seq and prev_hash. Frozen: the
#: migration that chained old events keeps its own copy, and changing this list would make
#: every existing event fail verification.
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


class ChainHead(models.Model):
    """The last link of one named hash chain; appending locks this row first.

    The lock is what keeps a chain linear: two transactions appending at once queue on it
    instead of both linking to the same predecessor.
    """

    chain = models.CharField(max_length=50, primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seq__gte=0), name="chainhead_seq_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chain} at seq {self.seq}: {self.hash}"

    @classmethod
    def lock(cls, name: str) -> ChainHead:
        """The head of chain `name`, locked until the caller's transaction ends.

        Heads are created by `migrate` (and after a test flush, which runs the same hook). A
        missing head is never recreated here: that would hide its deletion from
        `verify-audit`. Writing stops instead, until an operator has checked the chain and run
        `migrate` again.
        """
        try:
            return cls.objects.select_for_update().get(chain=name)
        except cls.DoesNotExist:
            raise ChainHeadMissing(
                f"the {name} chain head is missing: run `flotilla verify-audit`, then "
                "`flotilla migrate` to recreate it at the last stored event"
            ) from None

    @classmethod
    def ensure(cls, name: str, last_link: Callable[[], tuple[int, str]]) -> None:
        """Create the head of chain `name` at `last_link()` if it does not exist."""
        if not cls.objects.filter(chain=name).exists():
            seq, hash_ = last_link()
            cls.objects.get_or_create(chain=name, defaults={"seq": seq, "hash": hash_})


class ChainHeadMissing(RuntimeError):
    """An audited write found its chain's head deleted."""


class ChainedRecord(models.Model):
    """A record whose rows are the links of one hash chain, named `CHAIN` in `ChainHead`.

    Subclasses set `CHAIN` and `CHAINED_FIELDS` (the recorded fields each hash covers, besides
    seq and prev_hash; frozen once rows exist). Rows are added with `append`.
    """

    CHAIN: ClassVar[str]
    CHAINED_FIELDS: ClassVar[tuple[str, ...]]

    #: Position in the chain: 1, 2, 3, ... in the order rows were committed, no gaps.
    seq = models.BigIntegerField(unique=True)
    #: Hex SHA-256 of the previous row (64 zeros for the first).
    prev_hash = models.CharField(max_length=64)
    #: Hex SHA-256 over seq, the fields in CHAINED_FIELDS and prev_hash (`chain.link_hash`).
    hash = models.CharField(max_length=64)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="%(class)s_seq_from_1"),
            # Two rows linking to one predecessor would be a fork in the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="%(class)s_one_successor"),
        ]

    @classmethod
    def last_link(cls) -> tuple[int, str]:
        """(seq, hash) of the last row, or (0, 64 zeros) for an empty chain."""
        last = (
            cls.objects.filter(seq__isnull=False)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        return last or (0, chain.GENESIS)

    #: What `waiting` counts, as `verify-audit` says it ("<n> more recorded but not yet
    #: chained"): for one, for any other number.
    WAITING = ("more", "more")

    @classmethod
    def waiting(cls) -> tuple[int, Any]:
        """(how many rows are recorded but not yet chained, the time of the oldest): none
        here; a chain fed from an inbox says (the access record, ADR 0022)."""
        return 0, None

    def chain_payload(self) -> dict[str, Any]:
        """The fields this row's hash covers, besides seq and prev_hash."""
        return {name: getattr(self, name) for name in self.CHAINED_FIELDS}

    @classmethod
    def append(cls, build: Callable[[Any], list[Any]]) -> list[Any]:
        """Add the rows `build(now)` makes to the end of the chain, in one INSERT.

        Run inside the caller's transaction: locks the head, so concurrent writers queue and
        never fork the chain; `now` is taken under the lock, so times never go backwards along
        it. Each row's chained fields are first set to what the database will give back (an id
        passed as "5" reads as 5; JSON as `chain.as_stored`), because that is what is hashed.
        """
        head = ChainHead.lock(cls.CHAIN)
        rows = build(timezone.now())
        for row in rows:
            for name in cls.CHAINED_FIELDS:
                field = cls._meta.get_field(name)
                value = getattr(row, name)
                stored = (
                    chain.as_stored(value)
                    if isinstance(field, models.JSONField)
                    else field.to_python(value)
                )
                setattr(row, name, stored)
            row.link_after(head)
        cls.objects.bulk_create(rows)
        head.save(update_fields=["seq", "hash"])
        return rows

    def link_after(self, head: ChainHead) -> None:
        """Make this row the next link after `head` (locked), and move `head` (unsaved) to it.

        The chained fields must already hold their values as the database will give them back.
        """
        self.seq, self.prev_hash = head.seq + 1, head.hash
        self.hash = chain.link_hash(self.seq, self.chain_payload(), self.prev_hash)
        head.seq, head.hash = self.seq, self.hash


def chained_models() -> dict[str, type[ChainedRecord]]:
    """Chain name → the model whose rows form it, in the order of INSTALLED_APPS."""
    return {model.CHAIN: model for model in apps.get_models() if issubclass(model, ChainedRecord)}


class AuditEvent(ChainedRecord):
    """Who changed what, when, with the state before and after.

    An event is written whole in the transaction of the change it describes, but not yet
    linked: `seq`, `prev_hash` and `hash` stay empty until `chain_waiting` (run by the worker
    every minute) links the waiting events, in the order they were written, under the chain
    head's lock (ADR 0040). So no change of state waits on another's to record itself.
    """

    #: The chain name of audit events in `ChainHead`.
    CHAIN = "audit"
    CHAINED_FIELDS = CHAINED_FIELDS

    #: Empty until the event is chained (`chain_waiting`), then its place in the chain.
    seq = models.BigIntegerField(unique=True, null=True, blank=True)
    #: Empty until chained, then the hash of the event before it.
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    #: Empty until chained, then the hash over seq, the chained fields and prev_hash.
    hash = models.CharField(max_length=64, null=True, blank=True)

    #: Set by `record()`, not by the database, because it is part of what is hashed.
    at = models.DateTimeField(db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: A machine principal (API token) acting on behalf of an organisation.
    actor_token_id = models.BigIntegerField(null=True, blank=True)
    #: Human-readable actor at the time (kept even if the user is renamed).
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta(ChainedRecord.Meta):
        # The order events were written in: for one object, the order of its changes (each
        # action locks the row it changes before recording), and for events chained before
        # ADR 0040, the chain's order too.
        ordering = ["id"]
        constraints = [
            *ChainedRecord.Meta.constraints,
            # Waiting (all three empty) or chained (all three set): never half-linked.
            models.CheckConstraint(
                condition=models.Q(seq__isnull=True, prev_hash__isnull=True, hash__isnull=True)
                | models.Q(seq__isnull=False, prev_hash__isnull=False, hash__isnull=False),
                name="auditevent_linked_whole",
            ),
        ]
        indexes = [
            # Finds the waiting events (few) without reading the chained ones (many).
            models.Index(
                fields=["id"], condition=models.Q(seq__isnull=True), name="auditevent_waiting"
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"

    @classmethod
    def waiting(cls) -> tuple[int, Any]:
        pending = cls.objects.filter(seq__isnull=True).aggregate(
            n=models.Count("id"), oldest=models.Min("at")
        )
        return pending["n"], pending["oldest"]

    @classmethod
    def chain_waiting(cls, batch: int) -> int:
        """Link the oldest `batch` waiting events onto the chain, in the order they were
        written; how many. Inside the caller's transaction: the head is locked first, so two
        runs queue and the second finds these events linked already.

        Each hash is computed from the event as the database gives it back, which is what
        `verify-audit` reads.
        """
        head = ChainHead.lock(cls.CHAIN)
        rows = list(
            cls.objects.filter(seq__isnull=True)
            .order_by("id")
            .values_list("id", *cls.CHAINED_FIELDS)[:batch]
        )
        events = []
        for id_, *values in rows:
            event = cls(id=id_, **dict(zip(cls.CHAINED_FIELDS, values, strict=True)))
            event.link_after(head)
            events.append(event)
        cls.objects.bulk_update(events, ["seq", "prev_hash", "hash"], batch_size=500)
        head.save(update_fields=["seq", "hash"])
        return len(events)
