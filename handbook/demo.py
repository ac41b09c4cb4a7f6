"""The handbook's district default set, for tests and ``load_demo``.

The set itself is written by the data migration handbook/migrations/0002_default_items.py
(its names are samples: only "10项在家陪伴 + 4种在校陪伴 + N个陪伴好行为" comes from
the district's case); ``default_items()`` runs the same idempotent upsert, e.g.
after a transactional test flushed the tables.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

_migration = import_module("handbook.migrations.0002_default_items")

DEFAULT_ITEMS = _migration.DEFAULT_ITEMS


def default_items() -> int:
    """Create or refresh the district's default items (alliance empty); returns their number."""
    return _migration.default_items_upsert(apps)
