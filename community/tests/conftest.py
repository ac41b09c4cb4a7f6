import pytest

from .world import build_world


@pytest.fixture
def board_world(db):
    return build_world()
