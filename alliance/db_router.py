"""Routing for the optional read replica (``DATABASE_REPLICA_URL``, issue 19).

Nothing reads from the replica unless it runs inside ``reading_from_replica()``:
the coordinator dashboards and exports (``alliance.replica``) do, bookings and
every other page never do. Writes always go to the primary, and so do
``select_for_update()`` and ``get_or_create()`` (Django sends them to
``db_for_write``): a locking read or a free-seat count can never see a lagging
copy (pretix's warning against read/write-splitting proxies, docs/OPERATIONS.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import Error as DatabaseError

REPLICA = "replica"

logger = structlog.get_logger(__name__)

# Per thread / task / async context, so one request's choice never leaks into another.
_on_replica: ContextVar[bool] = ContextVar("alliance_reading_from_replica", default=False)
# While the replica is down, each process asks it again only this often (monotonic).
_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in connections.settings


def on_replica() -> bool:
    """True inside ``reading_from_replica()`` with a usable replica."""
    return _on_replica.get()


def _primary_only_models() -> set[str]:
    return {label.lower() for label in getattr(settings, "REPLICA_PRIMARY_MODELS", ())}


def replica_usable() -> bool:
    """Is the replica reachable now? A failed connection marks it down for
    ``REPLICA_RETRY_SECONDS``, so that pages fall back to the primary at once
    instead of waiting for a connect timeout on every request."""
    global _down_until
    if not replica_configured():
        return False
    if time.monotonic() < _down_until:
        return False
    connection = connections[REPLICA]
    try:
        # A kept connection to a replica that restarted is found dead here
        # (CONN_HEALTH_CHECKS) and replaced.
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError as error:
        replica_mark_down(error)
        return False
    return True


def replica_mark_down(error: BaseException | None = None) -> None:
    global _down_until
    _down_until = time.monotonic() + getattr(settings, "REPLICA_RETRY_SECONDS", 10)
    try:
        connections[REPLICA].close()
    except DatabaseError:
        pass
    logger.warning(
        "replica_unavailable_reading_from_primary",
        error=type(error).__name__ if error else None,
        retry_seconds=getattr(settings, "REPLICA_RETRY_SECONDS", 10),
    )


@contextmanager
def reading_from_replica() -> Iterator[bool]:
    """Send this block's reads to the replica when one is configured and reachable.

    Yields whether the replica is used: without one, or while it is down, the
    block reads from the primary (logged once per retry period as
    ``replica_unavailable_reading_from_primary``).
    """
    use = replica_usable()
    token = _on_replica.set(use)
    try:
        yield use
    finally:
        _on_replica.reset(token)


class ReplicaRouter:
    """Reads go to "replica" only inside ``reading_from_replica()``; the rest to "default"."""

    def db_for_read(self, model, **hints):
        if _on_replica.get() and model._meta.label_lower not in _primary_only_models():
            return REPLICA
        # Explicit, so that a related object of a row read on the replica is still
        # fetched from the primary once the block is over.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        databases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in databases and obj2._state.db in databases:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica replays the primary's schema; nothing is ever migrated on it.
        return db == DEFAULT_DB_ALIAS
