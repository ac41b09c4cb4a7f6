"""The district's default responsibilities, for tests and ``load_demo``.

The list itself is written by the data migration
evaluation/migrations/0002_default_responsibilities.py; ``responsibilities_default()``
runs the same idempotent upsert, e.g. after a transactional test flushed the tables.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

_migration = import_module("evaluation.migrations.0002_default_responsibilities")

DEFAULT_RESPONSIBILITIES = _migration.DEFAULT_RESPONSIBILITIES


def responsibilities_default() -> int:
    """Create or refresh the district's default responsibilities; returns their number."""
    return _migration.responsibilities_upsert(apps)
