"""Access events are the hash chain "access": `verify-audit --chain access` finds tampering.

The chain of 500 events is written through `ledger.write` (100 reads of five owners each),
as requests write it; the 10,000-event case is covered for the audit chain.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flotilla.audit import chain
from flotilla.audit.models import ChainHead
from flotilla.authz.models import Role
from flotilla.sharing import ledger, policy
from flotilla.sharing.models import CHAINED_FIELDS, AccessEvent, PendingAccess
from tests import factories as f

pytestmark = pytest.mark.django_db

N = 500
POSITIONS = [1, 137, 250, 499, N]
EDITS = [
    ("groups", ["capacity"]),
    ("reader_label", "someone else"),
    ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ("what", "GET /elsewhere"),
    ("reader_organisations", [999]),
]
SWAPS = [(1, 2), (3, 400), (N - 1, N)]


@pytest.fixture
def long_chain(db):
    owners = [f.OrganisationFactory(code=f"RC{i}") for i in range(5)]
    viewer = policy.platform_viewer("access-chain tests")
    for i in range(N // len(owners)):
        ledger.write(viewer, {o.pk: {"capacity", "flow"} for o in owners}, f"read {i}")
    assert ledger.flush(batch=26) == N  # 100 requests, in four batches
    return N


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify-audit", *args, stdout=out)
    return out.getvalue()


def verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("verify-audit", *args)
    assert failure.value.returncode == 1
    return str(failure.value)


def event_id(seq: int) -> int:
    return AccessEvent.objects.get(seq=seq).pk


def test_access_events_written_by_requests_form_a_verifiable_chain(client, cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=1), ga_open=100)
    f.report(cast.south, now - timedelta(hours=1), ga_open=200)
    for person in (Role.VIEWER, "south_reporter", Role.VIEWER):
        client.force_login(cast.people[person])
        client.get(f"/c/{cast.collab.slug}/")
    ledger.flush()
    events = list(AccessEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.prev_hash for e in events] == [chain.GENESIS, events[0].hash, events[1].hash]
    for e in events:
        assert e.hash == chain.link_hash(e.seq, e.chain_payload(), e.prev_hash)
    head = ChainHead.objects.get(chain="access")
    assert (head.seq, head.hash) == (3, events[-1].hash)
    assert verify("--chain", "access") == f"access chain: 3 events verified, head {head.hash}\n"


def test_an_access_event_hash_covers_every_recorded_field(long_chain):
    recorded_fields = {f.attname for f in AccessEvent._meta.concrete_fields}
    assert recorded_fields - set(CHAINED_FIELDS) == {"id", "seq", "prev_hash", "hash"}


def test_an_access_event_takes_every_chained_field_from_its_request_and_owner():
    assert {*ledger.READER_FIELDS, "owner_id", "groups"} == set(CHAINED_FIELDS)


def test_a_request_records_its_reads_of_every_owner_in_one_row_with_one_insert_and_no_lock(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    with CaptureQueriesContext(connection) as queries:
        ledger.write(viewer, {cast.south.pk: {"capacity"}, cast.outside.pk: {"flow"}}, "test")
    assert [q["sql"].split(" (")[0] for q in queries] == ['INSERT INTO "sharing_pendingaccess"']
    assert PendingAccess.objects.get().reads == sorted(
        [[cast.south.pk, ["capacity"]], [cast.outside.pk, ["flow"]]]
    )
    assert not AccessEvent.objects.exists()


def test_a_flush_chains_one_event_for_each_owner_a_request_read(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    ledger.write(viewer, {cast.south.pk: {"capacity", "flow"}, cast.outside.pk: {"flow"}}, "one")
    ledger.write(viewer, {cast.outside.pk: {"capacity"}}, "two")
    assert ledger.flush() == 3
    events = list(AccessEvent.objects.order_by("seq"))
    owners = sorted([cast.south.pk, cast.outside.pk])
    first = ["capacity", "flow"] if owners[0] == cast.south.pk else ["flow"]
    assert [(e.what, e.owner_id) for e in events] == [
        ("one", owners[0]),
        ("one", owners[1]),
        ("two", cast.outside.pk),
    ]
    assert events[0].groups == first
    assert {e.at for e in events[:2]} == {events[0].at}  # one request, one time
    assert {e.reader_label for e in events} == {viewer.label}


def test_a_flush_chains_the_pending_reads_in_the_order_they_were_recorded(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    for what in ("first", "second", "third"):
        ledger.write(viewer, {cast.south.pk: {"capacity"}}, what)
    recorded = list(PendingAccess.objects.order_by("id").values_list("at", flat=True))
    assert ledger.flush(batch=2) == 3
    events = list(AccessEvent.objects.order_by("seq"))
    assert [(e.seq, e.what) for e in events] == [(1, "first"), (2, "second"), (3, "third")]
    assert [e.at for e in events] == recorded  # the time of the read, not of the flush
    assert not PendingAccess.objects.exists()
    assert ledger.flush() == 0  # nothing twice
    assert verify("--chain", "access").startswith("access chain: 3 events verified")


def test_a_flush_that_fails_leaves_the_reads_pending_and_chains_nothing(cast, monkeypatch):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    ledger.write(viewer, {cast.south.pk: {"capacity"}}, "kept")

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(PendingAccess.objects, "filter", broken)
    with pytest.raises(RuntimeError):
        ledger.flush()
    monkeypatch.undo()
    assert not AccessEvent.objects.exists()
    assert ChainHead.objects.get(chain="access").seq == 0
    assert PendingAccess.objects.get().what == "kept"


def test_the_scheduled_job_chains_what_was_read_since_the_last_run(cast):
    from flotilla.sharing.tasks import chain_access_record

    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    ledger.write(viewer, {cast.south.pk: {"capacity"}, cast.outside.pk: {"flow"}}, "test")
    assert chain_access_record.call(slot=timezone.now().isoformat()) == 2
    assert chain_access_record.call(slot=timezone.now().isoformat()) == 0
    assert AccessEvent.objects.count() == 2


def test_a_clean_chain_verifies_with_every_chain_named(long_chain):
    head = ChainHead.objects.get(chain="access")
    assert (head.seq, AccessEvent.objects.count()) == (N, N)
    audit_line, access_line, *state = verify().splitlines()
    assert audit_line.startswith("audit chain: ")  # making the organisations was audited
    assert state == [  # then what decides who sees what, against the audit record
        "grants: 0 as the audit record says",
        "memberships: 0 as the audit record says",
        "API tokens: 0 as the audit record says",
        "linked sign-in accounts: 0 as the audit record says",
        "second factors: 0 as the audit record says",
    ]
    assert access_line == f"access chain: {N} events verified, head {head.hash}"


@pytest.mark.parametrize(("seq", "edit"), list(zip(POSITIONS, EDITS, strict=True)))
def test_a_modified_access_event_is_located(long_chain, seq, edit):
    field, value = edit
    AccessEvent.objects.filter(seq=seq).update(**{field: value})
    assert verify_fails("--chain", "access") == (
        f"access chain: event seq {seq} (id {event_id(seq)}): hash does not match its content "
        "(modified)"
    )


@pytest.mark.parametrize("seq", POSITIONS)
def test_a_deleted_access_event_is_located(long_chain, seq):
    AccessEvent.objects.filter(seq=seq).delete()
    problem = verify_fails("--chain", "access")
    assert problem.startswith("access chain: ")
    assert f"event {seq} missing (deleted" in problem


@pytest.mark.parametrize(("a", "b"), SWAPS)
def test_two_swapped_access_events_are_located_at_the_first(long_chain, a, b):
    AccessEvent.objects.filter(seq=a).update(seq=N + 1)
    AccessEvent.objects.filter(seq=b).update(seq=a)
    AccessEvent.objects.filter(seq=N + 1).update(seq=b)
    problem = verify_fails("--chain", "access")
    assert problem.startswith(f"access chain: event seq {a} (id {event_id(a)}) links to ")
    assert "(reordered" in problem


def test_a_broken_access_chain_fails_all_chains_naming_only_it(long_chain):
    AccessEvent.objects.filter(seq=42).update(what="GET /elsewhere")
    assert verify_fails() == (
        f"access chain: event seq 42 (id {event_id(42)}): hash does not match its content "
        "(modified)"
    )
    assert verify("--chain", "audit").startswith("audit chain: ")


def test_the_exported_heads_include_the_access_chain_and_are_checked(long_chain, tmp_path):
    path = tmp_path / "heads.json"
    call_command("export-audit-head", "--out", str(path))
    exported = json.loads(path.read_text())
    last = AccessEvent.objects.get(seq=N)
    assert exported["chain"] == "audit"  # the audit head stays at the top level
    access = next(h for h in exported["heads"] if h["chain"] == "access")
    assert (access["seq"], access["hash"]) == (N, last.hash)
    assert datetime.fromisoformat(access["at"]) == last.at
    assert f"access chain: {N} events verified, head {last.hash}\n" in verify(
        "--expect-head", str(path)
    )
    # Cut back with its head: consistent again, but not with the exported head.
    AccessEvent.objects.filter(seq__gt=N - 5).delete()
    before = AccessEvent.objects.get(seq=N - 5)
    ChainHead.objects.filter(chain="access").update(seq=N - 5, hash=before.hash)
    assert verify("--chain", "access").startswith(f"access chain: {N - 5} events verified")
    assert verify_fails("--expect-head", str(path)) == (
        f"access chain: the chain ends at seq {N - 5} but the exported head is at seq {N}: "
        f"events {N - 4} to {N} missing (deleted or truncated)"
    )


def test_verify_audit_says_how_many_requests_reads_are_not_yet_chained(long_chain, cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    ledger.write(viewer, {cast.south.pk: {"capacity"}, cast.outside.pk: {"flow"}}, "test")
    ledger.write(viewer, {cast.south.pk: {"flow"}}, "again")
    oldest = PendingAccess.objects.earliest("at").at
    line = verify("--chain", "access")
    assert line.startswith(f"access chain: {N} events verified")
    assert line.endswith(
        f"; 2 more requests' reads recorded but not yet chained (the oldest at "
        f"{oldest:%Y-%m-%d %H:%M:%S %Z})\n"
    )
    ledger.flush()
    assert "not yet chained" not in verify("--chain", "access")
