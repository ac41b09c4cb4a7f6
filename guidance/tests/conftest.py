import pytest

from .world import build_station_world


@pytest.fixture
def station_world(db):
    return build_station_world()
