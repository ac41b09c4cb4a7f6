import pytest

from bookings.tests.conftest import make_family


@pytest.fixture
def parent(client):
    """A signed-in guardian with a co-guardian and a child; returns (family, guardians, kids)."""
    family, guardians, kids = make_family(children=1, guardians=2)
    client.force_login(guardians[0].user)
    return family, guardians, kids
