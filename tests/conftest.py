"""Shared fixtures: a cast of organisations and people (owner, member, outsider)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from flotilla.authz.models import Role
from tests import factories as f


def data_dir() -> Path:
    return Path(settings.DATA_DIR)


@pytest.fixture
def shared_data() -> Path:
    """The published data files; tests that need them skip where they are absent."""
    path = data_dir()
    if not (path / "nhse-winter-sitreps").is_dir():
        pytest.skip(f"published data not found at {path} (set FLOTILLA_DATA_DIR)")
    return path


def chromium_path() -> str | None:
    return os.environ.get("FLOTILLA_CHROMIUM") or shutil.which("chromium")


@pytest.fixture
def cast(db):
    """Two member trusts of one collaborative, an outsider trust, and a person per role."""
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    outside = f.OrganisationFactory(code="RX1", name="Outside Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    people = {}
    for role in Role.values:
        people[role] = f.UserFactory(username=f"north_{role}")
        f.member(people[role], north, role)
    people["south_reporter"] = f.UserFactory(username="south_reporter")
    f.member(people["south_reporter"], south, Role.REPORTER)
    people["outsider"] = f.UserFactory(username="outsider")
    f.member(people["outsider"], outside, Role.ORG_ADMIN)
    return type(
        "Cast",
        (),
        {"north": north, "south": south, "outside": outside, "collab": collab, "people": people},
    )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow on purpose; tests create many people.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
