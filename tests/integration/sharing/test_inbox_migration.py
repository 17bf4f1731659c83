"""Reads waiting in the access record's inbox survive its change to one row per request
(migration sharing 0005, ADR 0043), forwards and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from flotilla.sharing import ledger
from flotilla.sharing.models import AccessEvent, PendingAccess
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("sharing", "0004_policy_version")
AFTER = ("sharing", "0005_inbox_one_row_per_request")


def migrate(target: tuple[str, str]):
    """Migrate the sharing app to `target`; the historical models there."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def at_each_end():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_reads_waiting_one_row_per_owner_become_one_request_each_and_are_chained(at_each_end):
    north, south = f.OrganisationFactory(code="RN9"), f.OrganisationFactory(code="RS9")
    old = migrate(BEFORE).get_model("sharing", "PendingAccess")
    now = timezone.now()
    for owner, groups, what in ((north, ["capacity"], "GET /a"), (south, ["flow"], "GET /b")):
        old.objects.create(
            at=now,
            owner_id=owner.pk,
            reader_label="a reader",
            reader_organisations=[],
            groups=groups,
            what=what,
        )

    migrate(AFTER)

    assert [(p.what, p.reads) for p in PendingAccess.objects.order_by("id")] == [
        ("GET /a", [[north.pk, ["capacity"]]]),
        ("GET /b", [[south.pk, ["flow"]]]),
    ]
    assert ledger.flush() == 2
    assert [(e.owner_id, e.groups, e.what) for e in AccessEvent.objects.order_by("seq")] == [
        (north.pk, ["capacity"], "GET /a"),
        (south.pk, ["flow"], "GET /b"),
    ]


def test_going_back_splits_each_request_into_one_row_per_owner(at_each_end):
    north, south = f.OrganisationFactory(code="RN9"), f.OrganisationFactory(code="RS9")
    PendingAccess.objects.create(
        at=timezone.now(),
        reader_label="a reader",
        reader_organisations=[],
        reads=[[north.pk, ["capacity"]], [south.pk, ["flow", "workforce"]]],
        what="GET /c/x/",
    )

    old = migrate(BEFORE).get_model("sharing", "PendingAccess")

    assert sorted((p.owner_id, p.groups, p.what) for p in old.objects.all()) == sorted(
        [(north.pk, ["capacity"], "GET /c/x/"), (south.pk, ["flow", "workforce"], "GET /c/x/")]
    )
