"""Celery tasks for limited places: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=8)
def booking_promotion_notify(self, booking_id: int) -> bool:
    """Tell a promoted family (email + in-site notice). Idempotent, so acks_late is safe."""
    try:
        return services.booking_promotion_notify(booking_id=booking_id)
    except (SMTPException, OSError) as exc:
        # Back off 30 s, 60 s, 120 s … up to 30 min between attempts.
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from exc


# Bounded: one sweep queues at most this many notices; the next minute takes the rest.
SWEEP_BATCH = 200


@shared_task(acks_late=True)
def booking_promotion_sweep() -> int:
    """Beat entry: queue notices that were never queued (broker down at commit time)."""
    ids = services.booking_promotions_unsent(limit=SWEEP_BATCH)
    for booking_id in ids:
        booking_promotion_notify.delay(booking_id)
    return len(ids)


def queue_promotion_notices(booking_ids: list[int]) -> None:
    """The promotion listener registered in apps.py: one task per promoted booking."""
    for booking_id in booking_ids:
        try:
            booking_promotion_notify.delay_on_commit(booking_id)
        except Exception:  # broker unreachable: the beat sweep will send it
            logger.exception("could not queue promotion notice for booking %s", booking_id)
