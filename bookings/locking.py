"""The one lock helper for every writer of an offering (its limited places).

Whoever changes an offering (a booking, a cancellation, a move, a new
capacity, an event edited by its coordinator) does it inside
``offering_transaction()`` and takes the rows with ``offerings_lock()``:

- ``offering_transaction()`` opens ``transaction.atomic()`` and bounds every
  lock wait in it with PostgreSQL's ``lock_timeout`` (``BOOKING_LOCK_TIMEOUT``,
  transaction-local). A lock timeout or a deadlock anywhere inside, on the
  offering or on a row locked with it (the event, a booking), becomes
  ``BookingBusy`` ("busy, try again"), never a 500. Nested, it is a savepoint
  and the outer transaction rolls back as a whole.
- ``offerings_lock(ids)`` locks the offering rows in ascending id order, so two
  writers never deadlock on each other's offerings. Rows of other tables that a
  writer locks too (an event) are locked *before* its offering, never after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction

from .errors import BookingBusy
from .models import Offering


def lock_timeout_set() -> None:
    """Bound how long the current transaction waits for a row lock (PostgreSQL only)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # SET cannot take a bind parameter; set_config(..., is_local=true) is
            # the parameterised equivalent of SET LOCAL.
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [settings.BOOKING_LOCK_TIMEOUT]
            )


def is_lock_timeout(error: OperationalError) -> bool:
    sqlstate = getattr(getattr(error, "__cause__", None), "sqlstate", None)
    # 55P03 lock_not_available; 40P01 deadlock_detected; SQLite says "locked".
    return sqlstate in ("55P03", "40P01") or "locked" in str(error).lower()


@contextmanager
def bounded_atomic(busy: Callable[[], Exception]) -> Iterator[None]:
    """``atomic()`` whose lock waits are bounded (BOOKING_LOCK_TIMEOUT); a lock
    timeout or deadlock anywhere inside raises ``busy()`` (each app's own "busy,
    try again" error), never a 500. Every app's locking writer opens this one."""
    try:
        with transaction.atomic():
            lock_timeout_set()
            yield
    except OperationalError as error:
        if is_lock_timeout(error):
            raise busy() from error
        raise


def offering_transaction():
    """``bounded_atomic`` for offerings: a lock timeout becomes ``BookingBusy``."""
    return bounded_atomic(BookingBusy)


def offerings_lock(offering_ids: Iterable[int]) -> dict[int, Offering]:
    """Lock offerings in ascending id order; call inside ``offering_transaction()``."""
    ids = sorted(set(offering_ids))
    locked = Offering.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    return {offering.pk: offering for offering in locked}
