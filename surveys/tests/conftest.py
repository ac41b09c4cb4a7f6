"""Fixtures for every surveys test module; the world itself is in world.py."""

from __future__ import annotations

import pytest

from surveys.tests.world import World, build_world


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def tx_world(transactional_db) -> World:
    """The world in committed rows, for races and the real worker."""
    return build_world()
