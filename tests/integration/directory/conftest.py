import pytest

from flotilla.authz.models import Role
from tests import factories as f


@pytest.fixture
def south_manager(cast):
    """A coordinator at South, who keeps South's on-call directory."""
    person = f.UserFactory(username="south_coordinator")
    f.member(person, cast.south, Role.COORDINATOR)
    cast.people["south_coordinator"] = person
    return person
