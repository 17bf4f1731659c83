"""Tamper evidence: a 10,000-event audit chain, tampered with in each way, and `verify-audit`.

The chain is built once for the module and committed; each test tampers inside its own
transaction, which is rolled back. Recording 10,000 events through `audit.actions.record`
takes about 16 s on SQLite and over a minute on PostgreSQL (three statements each), so the
chain is bulk-inserted with the same `chain.link_hash` instead, and the events that
`record()` appends to it (and the two-thread test) show that the two agree. Positions are
drawn with a fixed seed and always include the first and the last event.
"""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from flotilla.audit import chain
from flotilla.audit.actions import AuditOutsideTransaction, chain_waiting, record
from flotilla.audit.models import CHAINED_FIELDS, AuditEvent, ChainHead
from flotilla.audit.principals import Principal
from tests import factories as f
from tests.concurrency import at_once

N = 10_000
_rnd = random.Random(20261126)
POSITIONS = [1, *sorted(_rnd.sample(range(2, N), 4)), N]
SWAPS = [
    (1, _rnd.randrange(2, N)),
    (_rnd.randrange(2, N), N),
    (N - 1, N),
    *(tuple(sorted(_rnd.sample(range(2, N), 2))) for _ in range(2)),
    (p := _rnd.randrange(2, N - 1), p + 1),
]
#: (field, tampered value) for modifications, one per position.
EDITS = [
    ("action", "organisations.nothing_happened"),
    ("after", {"beds": 0}),
    ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ("actor_label", "someone else"),
    ("organisation_id", 999_999),
    ("object_id", "elsewhere"),
]

SYSTEM = Principal.system("audit-chain tests")
FEED = Principal(label="token:north feed", token_id=7, organisation_id=3)


def record_many(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        record(
            by=FEED if i % 3 else SYSTEM,
            action=f"test.event_{i % 5}",
            object_type="tests.thing",
            object_id=str(i),
            organisation_id=i % 11 or None,
            before={"value": i - 1, "note": "é"} if i % 2 else None,
            after={"value": i, "cells": [1.5, None, "text"]},
        )


def reset_chain() -> None:
    AuditEvent.objects.all().delete()
    ChainHead.objects.update_or_create(
        chain=AuditEvent.CHAIN, defaults={"seq": 0, "hash": chain.GENESIS}
    )


def build_chain(n: int) -> None:
    """Bulk-insert events 1..n after an empty chain, linked as `record()` links them."""
    start = timezone.now() - timedelta(days=30)
    events, prev = [], chain.GENESIS
    for i in range(n):
        by = FEED if i % 3 else SYSTEM
        event = AuditEvent(
            seq=i + 1,
            at=start + timedelta(seconds=i, microseconds=i % 997),
            actor_token_id=by.token_id,
            actor_label=by.label,
            action=f"test.event_{i % 5}",
            object_type="tests.thing",
            object_id=str(i),
            organisation_id=i % 11 or None,
            before={"value": i - 1, "note": "é"} if i % 2 else None,
            after={"value": i, "cells": [1.5, None, "text"]},
            prev_hash=prev,
        )
        event.hash = prev = chain.link_hash(event.seq, event.chain_payload(), prev)
        events.append(event)
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    ChainHead.objects.filter(chain=AuditEvent.CHAIN).update(seq=n, hash=prev)


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker):
    """10,000 events committed for this module; the audit tables are put back afterwards."""
    with django_db_blocker.unblock():
        saved_events = list(AuditEvent.objects.values())
        saved_heads = list(ChainHead.objects.values())
        with transaction.atomic():
            reset_chain()
            build_chain(N)
    yield
    with django_db_blocker.unblock(), transaction.atomic():
        AuditEvent.objects.all().delete()
        ChainHead.objects.all().delete()
        AuditEvent.objects.bulk_create(AuditEvent(**row) for row in saved_events)
        ChainHead.objects.bulk_create(ChainHead(**row) for row in saved_heads)


@pytest.fixture
def long_chain(built, db):
    return N


def verify(*args: str) -> str:
    """The output of `verify-audit --chain audit`, after the chain name that begins it."""
    out = io.StringIO()
    call_command("verify-audit", "--chain", "audit", *args, stdout=out)
    assert out.getvalue().startswith("audit chain: ")
    return out.getvalue().removeprefix("audit chain: ")


def verify_fails(*args: str) -> str:
    """The problem `verify-audit --chain audit` exits 1 with, after the chain name if any."""
    with pytest.raises(CommandError) as failure:
        call_command("verify-audit", "--chain", "audit", *args)
    assert failure.value.returncode == 1
    return str(failure.value).removeprefix("audit chain: ")


def export_head(tmp_path) -> str:
    path = tmp_path / "audit-head.json"
    call_command("export-audit-head", "--out", str(path))
    return str(path)


def event_id(seq: int) -> int:
    return AuditEvent.objects.get(seq=seq).pk


def event_hash(seq: int) -> str:
    return AuditEvent.objects.get(seq=seq).hash


def swap_seq(a: int, b: int) -> None:
    # Through a spare number: seq is unique.
    AuditEvent.objects.filter(seq=a).update(seq=N + 1)
    AuditEvent.objects.filter(seq=b).update(seq=a)
    AuditEvent.objects.filter(seq=N + 1).update(seq=b)


def rehash_from(seq: int) -> None:
    """Recompute every hash from `seq` on and move the head: what a database admin could do."""
    prev = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else chain.GENESIS
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        event.prev_hash = prev
        event.hash = chain.link_hash(event.seq, event.chain_payload(), prev)
        # prev_hash is unique, so clear it first to step past the old link.
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash="", hash="")
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=event.prev_hash, hash=event.hash)
        prev = event.hash
    ChainHead.objects.filter(chain=AuditEvent.CHAIN).update(hash=prev)


def test_a_clean_chain_of_ten_thousand_events_verifies_up_to_its_head(long_chain):
    head = ChainHead.objects.get(chain=AuditEvent.CHAIN)
    assert (head.seq, AuditEvent.objects.count()) == (N, N)
    assert verify() == f"{N} events verified, head {head.hash}\n"


def test_record_writes_the_event_whole_but_leaves_the_chain_and_its_head_alone(long_chain):
    head_before = ChainHead.objects.get(chain=AuditEvent.CHAIN)
    record_many(2, start=N)
    waiting = AuditEvent.objects.filter(seq__isnull=True)
    assert [(e.action, e.object_id, e.prev_hash, e.hash) for e in waiting] == [
        ("test.event_0", str(N), None, None),
        ("test.event_1", str(N + 1), None, None),
    ]
    head = ChainHead.objects.get(chain=AuditEvent.CHAIN)
    assert (head.seq, head.hash) == (head_before.seq, head_before.hash)
    oldest = waiting.first().at
    assert verify() == (
        f"{N} events verified, head {head.hash}; 2 more recorded but not yet chained "
        f"(the oldest at {oldest:%Y-%m-%d %H:%M:%S %Z})\n"
    )


def test_chaining_links_the_waiting_events_after_the_head_in_the_order_they_were_written(
    long_chain,
):
    record_many(3, start=N)
    assert chain_waiting(batch=2) == 3
    last, *new = AuditEvent.objects.filter(seq__gte=N).order_by("seq")
    assert [e.object_id for e in new] == [str(N), str(N + 1), str(N + 2)]
    assert [(e.seq, e.prev_hash) for e in new] == [
        (N + 1, last.hash),
        (N + 2, new[0].hash),
        (N + 3, new[1].hash),
    ]
    head = ChainHead.objects.get(chain=AuditEvent.CHAIN)
    assert (head.seq, head.hash) == (N + 3, new[2].hash)
    assert verify() == f"{N + 3} events verified, head {head.hash}\n"
    assert chain_waiting() == 0


def test_the_scheduled_job_links_what_waits_and_a_second_run_finds_nothing(long_chain):
    from flotilla.jobs.tasks import chain_audit_record

    record_many(2, start=N)
    assert chain_audit_record.call(slot=timezone.now().isoformat()) == 2
    assert chain_audit_record.call(slot=timezone.now().isoformat()) == 0
    assert verify().startswith(f"{N + 2} events verified")


def test_the_database_refuses_an_event_linked_by_halves(long_chain):
    record_many(1, start=N)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(seq__isnull=True).update(seq=N + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(seq=5).update(hash=None)


def test_an_event_rolled_back_with_its_change_is_never_chained(long_chain):
    def change_that_fails() -> None:
        with transaction.atomic():
            record_many(1, start=N)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert chain_waiting() == 0
    assert AuditEvent.objects.count() == N


def test_an_event_hash_covers_every_recorded_field(long_chain):
    event = AuditEvent.objects.get(seq=3)
    assert set(event.chain_payload()) == set(CHAINED_FIELDS)
    recorded_fields = {f.attname for f in AuditEvent._meta.concrete_fields}
    assert recorded_fields - set(CHAINED_FIELDS) == {"id", "seq", "prev_hash", "hash"}
    assert event.hash == chain.link_hash(3, event.chain_payload(), event.prev_hash)


def test_an_event_is_hashed_as_the_database_gives_it_back(long_chain):
    person = f.UserFactory()
    record(
        by=person,
        action="test.awkward",
        obj=person,
        organisation_id="42",
        before={1: ("a", 2.5)},
        after={"nested": {"z": [], "a": None}, "floats": [-0.0, 1e16, 1.5e-7, 2.0], "é": "ü"},
    )
    event = AuditEvent.objects.get(action="test.awkward")
    assert (event.actor_user_id, event.organisation_id) == (person.pk, 42)
    assert event.before == {"1": ["a", 2.5]}
    chain_waiting()
    event.refresh_from_db()
    assert verify().startswith(f"{event.seq} events verified")


@pytest.mark.parametrize(("seq", "edit"), list(zip(POSITIONS, EDITS, strict=True)))
def test_a_modified_event_is_located_and_named_as_modified(long_chain, seq, edit):
    field, value = edit
    AuditEvent.objects.filter(seq=seq).update(**{field: value})
    assert verify_fails() == (
        f"event seq {seq} (id {event_id(seq)}): hash does not match its content (modified)"
    )


@pytest.mark.parametrize("seq", POSITIONS)
def test_a_deleted_event_is_located_and_named_as_deleted(long_chain, seq):
    AuditEvent.objects.filter(seq=seq).delete()
    problem = verify_fails()
    assert f"event {seq} missing (deleted" in problem
    if seq < N:
        assert problem.startswith("sequence gap")


@pytest.mark.parametrize(("a", "b"), SWAPS)
def test_two_swapped_events_are_located_at_the_first_and_named_as_reordered(long_chain, a, b):
    swap_seq(a, b)
    problem = verify_fails()
    assert problem.startswith(f"event seq {a} (id {event_id(a)}) links to ")
    assert "(reordered" in problem


def test_an_event_relinked_to_another_predecessor_is_named_as_reordered(long_chain):
    AuditEvent.objects.filter(seq=5000).update(prev_hash="f" * 64)
    problem = verify_fails()
    assert problem.startswith("event seq 5000 ")
    # prev_hash is hashed too, so the event no longer fits anywhere but where it was.
    assert problem.endswith(
        f"but the previous hash is {chain.short(event_hash(4999))} "
        "(reordered: its own hash does not fit this position)"
    )


def test_an_event_rewritten_with_a_fresh_hash_is_caught_at_the_next_event(long_chain):
    event = AuditEvent.objects.get(seq=777)
    event.action = "organisations.nothing_happened"
    new_hash = chain.link_hash(777, event.chain_payload(), event.prev_hash)
    AuditEvent.objects.filter(seq=777).update(action=event.action, hash=new_hash)
    problem = verify_fails()
    assert problem.startswith("event seq 778 ")
    assert problem.endswith("(reordered or removed)")


def test_the_exported_head_names_the_last_event_and_verifies(long_chain, tmp_path):
    path = export_head(tmp_path)
    with open(path) as f:
        exported = json.load(f)
    last = AuditEvent.objects.get(seq=N)
    assert exported["chain"] == "audit"
    assert (exported["seq"], exported["hash"]) == (N, last.hash)
    assert datetime.fromisoformat(exported["at"]) == last.at
    assert verify("--expect-head", path).startswith(f"{N} events verified")


def test_exporting_the_head_first_links_the_events_waiting_to_be_chained(long_chain, tmp_path):
    record_many(2, start=N)
    with open(export_head(tmp_path)) as f:
        exported = json.load(f)
    last = AuditEvent.objects.get(object_id=str(N + 1))
    assert (exported["seq"], exported["hash"]) == (N + 2, last.hash)
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()


def test_an_exported_head_still_verifies_after_more_events_are_recorded(long_chain, tmp_path):
    path = export_head(tmp_path)
    record_many(3, start=N)
    chain_waiting()
    assert AuditEvent.objects.get(seq=N + 1).prev_hash == event_hash(N)
    assert verify("--expect-head", path).startswith(f"{N + 3} events verified")


def test_a_chain_rebuilt_after_its_head_was_exported_fails_only_against_that_head(
    long_chain, tmp_path
):
    path = export_head(tmp_path)
    AuditEvent.objects.filter(seq=N - 40).update(action="organisations.nothing_happened")
    rehash_from(N - 40)
    # Someone who can write to the database can make the chain consistent again...
    assert verify().startswith(f"{N} events verified")
    # ...but not make it pass through a head kept elsewhere.
    problem = verify_fails("--expect-head", path)
    assert problem.startswith(f"event seq {N} (id {event_id(N)}) has hash ")
    assert "but the exported head records" in problem


def test_a_chain_cut_back_with_its_head_fails_against_the_exported_head(long_chain, tmp_path):
    path = export_head(tmp_path)
    AuditEvent.objects.filter(seq__gt=N - 5).delete()
    ChainHead.objects.filter(chain="audit").update(seq=N - 5, hash=event_hash(N - 5))
    assert verify().startswith(f"{N - 5} events verified")
    assert verify_fails("--expect-head", path) == (
        f"the chain ends at seq {N - 5} but the exported head is at seq {N}: "
        f"events {N - 4} to {N} missing (deleted or truncated)"
    )


def test_an_event_added_without_moving_the_head_is_found(long_chain):
    ChainHead.objects.filter(chain="audit").update(seq=N - 1, hash=event_hash(N - 1))
    assert verify_fails() == (
        f"the chain goes on past its head (seq {N - 1}) to seq {N}: "
        "events were added without moving the head"
    )


def test_a_deleted_chain_head_is_reported(long_chain):
    ChainHead.objects.all().delete()
    with pytest.raises(CommandError, match=r"^audit chain: the chain head is missing \(deleted\)$"):
        call_command("verify-audit", "--chain", "audit")


def test_a_deleted_chain_head_stops_chaining_instead_of_being_quietly_remade(long_chain):
    from flotilla.audit.apps import _ensure_chain_heads
    from flotilla.audit.models import ChainHeadMissing

    ChainHead.objects.filter(chain="audit").delete()
    # Changes are still recorded, whole; only their linking waits.
    f.OrganisationFactory(code="RQ9")
    with pytest.raises(ChainHeadMissing, match="the audit chain head is missing"):
        chain_waiting()
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 1
    # Still reported, because nothing remade it...
    with pytest.raises(CommandError, match="the chain head is missing"):
        call_command("verify-audit", "--chain", "audit")
    # ...until an operator runs migrate, which recreates it at the last chained event.
    _ensure_chain_heads(sender=None)
    assert ChainHead.objects.get(chain="audit").seq == N
    assert chain_waiting() == 1
    assert verify().startswith(f"{N + 1} events verified")


def test_an_exported_head_of_another_chain_is_refused(long_chain, tmp_path):
    path = tmp_path / "head.json"
    path.write_text(json.dumps({"chain": "access", "seq": 1, "hash": "0" * 64}))
    assert "not 'audit'" in verify_fails("--expect-head", str(path))


def test_the_database_refuses_two_events_linking_to_one_predecessor(long_chain):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(seq=10).update(prev_hash=event_hash(8))


def test_the_database_refuses_two_events_with_one_seq(long_chain):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(seq=10).update(seq=11)


@pytest.mark.django_db(transaction=True)
def test_record_still_refuses_to_run_outside_a_transaction():
    with pytest.raises(AuditOutsideTransaction):
        record(by=SYSTEM, action="test.event")


@pytest.mark.django_db(transaction=True)
def test_threads_recording_and_chaining_at_once_link_every_event_once_in_one_linear_chain():
    reset_chain()
    per_thread = 100

    def record_and_chain(k: int) -> None:
        for i in range(k * per_thread, (k + 1) * per_thread):
            with transaction.atomic():
                record_many(1, start=i)
            if i % 10 == 0:
                chain_waiting(batch=7)

    at_once(record_and_chain)
    chain_waiting()

    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 2 * per_thread + 1))
    assert verify() == (
        f"{2 * per_thread} events verified, head "
        f"{ChainHead.objects.get(chain=AuditEvent.CHAIN).hash}\n"
    )
