"""The demo opens with who to call filled in: most members list their on-call roles, and one
shows what a grant without on-call contacts does."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from flotilla.collaboratives.models import Collaborative
from flotilla.demo import loader
from flotilla.directory import queries
from flotilla.directory.models import OnCallEntry
from flotilla.sharing import policy

pytestmark = pytest.mark.django_db


def test_the_demo_lists_who_to_call_and_one_member_keeps_it_to_itself(tmp_path):
    loaded = loader.load(data_dir=tmp_path)
    assert loaded["on_call"] == OnCallEntry.objects.count() > 10
    collab = Collaborative.objects.get()
    coordinator = get_user_model().objects.get(username="demo-coordinator")
    found = queries.directories(policy.viewer_of(coordinator), collab)
    shown = [d for d in found if d.entries]
    assert len(shown) >= 5
    assert any(d.withheld for d in found)  # the trust sharing rounded figures only
    assert {e.route for d in found for e in d.entries} >= {"phone", "bleep", "email", "radio"}
