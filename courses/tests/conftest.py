import pytest

from bookings.tests.conftest import make_family


@pytest.fixture
def parent(client):
    """A signed-in guardian with a co-guardian and a child; returns (family, guardians, kids)."""
    family, guardians, kids = make_family(children=1, guardians=2)
    client.force_login(guardians[0].user)
    return family, guardians, kids


@pytest.fixture
def lesson_media(settings, tmp_path):
    """Uploaded lesson files go to a temporary MEDIA_ROOT (the tests' own)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = ""
    return tmp_path / "media"
