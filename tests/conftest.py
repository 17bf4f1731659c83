"""Shared fixtures: a cast of organisations and people (owner, member, outsider); and the
Hypothesis profiles every property test runs under."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import hypothesis
import pytest
from django.conf import settings
from django.core.cache import caches
from hypothesis.database import DirectoryBasedExampleDatabase

from flotilla.authz.models import Role
from tests import factories as f

# A red run must go red again on the next run and on anyone else's machine, so by default every
# property test draws the same examples each time (derandomised: seeded from the test itself),
# keeps no example database, and prints the `@reproduce_failure` blob when it fails. Nothing
# may depend on the machine's speed either: no deadline, and no "too slow" health check.
# HYPOTHESIS_PROFILE=dev explores instead: fresh examples each run, failures remembered under
# var/ (not in git) and replayed first next time. See docs/adr/0014-derandomised-property-tests.md.
hypothesis.settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
_EXAMPLES = Path(__file__).resolve().parents[1] / "var" / "hypothesis"
hypothesis.settings.register_profile(
    "dev",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(_EXAMPLES),
    print_blob=True,
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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


@pytest.fixture(autouse=True)
def _rate_limits_out_of_the_way(settings):
    # Every request is still counted (the upsert runs in every test that makes one), but the
    # tests make far more requests a minute from one address than a person would; the rate
    # limits' own tests set them low.
    settings.RATE_LIMIT_PER_ADDRESS = settings.RATE_LIMIT_PER_TOKEN = 1_000_000


@pytest.fixture(autouse=True)
def _second_factor_left_to_its_own_tests(settings):
    # Most tests sign admins in with force_login, which passes no second factor. The second
    # factor's own tests turn it on (tests/integration/accounts/test_second_factor.py, with its
    # sweep of every page, and the browser test); production has it on unless configured off.
    settings.ADMIN_SECOND_FACTOR = False


@pytest.fixture(autouse=True)
def _jobs_due_at_once(settings):
    # Production lets a job that recomputes an organisation's figures settle for a few seconds
    # (ADR 0037); tests run what a report queued as soon as they ask a worker to. The settling
    # itself has its own tests (tests/integration/jobs/test_jobs.py).
    settings.JOBS_SETTLE_SECONDS = 0
    settings.FORECASTS_SETTLE_SECONDS = 0


@pytest.fixture(autouse=True)
def _answers_not_shared(settings):
    # Production gives an answer worked out for one viewer to the others who may see the same
    # for a few seconds (ADR 0038); tests change figures and read them again at once. The
    # sharing of answers has its own tests (tests/integration/sharing/test_shared_answers.py).
    settings.SHARED_ANSWER_SECONDS = 0
    caches["shared-answers"].clear()


@pytest.fixture
def aid(cast):
    """The cast, with a site each for North and South, and a coordinator at South (who
    arranges aid there) and at the outsider."""
    north_site = f.SiteFactory(code="RN101", name="North General Hospital", organisation=cast.north)
    south_site = f.SiteFactory(code="RS101", name="South General Hospital", organisation=cast.south)
    outside_site = f.SiteFactory(code="RX101", name="Outside Infirmary", organisation=cast.outside)
    south_coordinator = f.UserFactory(username="south_coordinator")
    f.member(south_coordinator, cast.south, Role.COORDINATOR)
    cast.north_site, cast.south_site, cast.outside_site = north_site, south_site, outside_site
    cast.people["south_coordinator"] = south_coordinator
    return cast
