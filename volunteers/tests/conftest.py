import pytest

from guidance.tests.world import build_station_world


@pytest.fixture
def station_world(db):
    return build_station_world()
