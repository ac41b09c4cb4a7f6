"""Celery tasks of the recognition app: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services
from .errors import RecognitionError

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def learning_families_term_end() -> dict:
    """Daily (beat): enqueue one computation per alliance whose term has ended and
    whose list is due (services.alliances_due_for_computation), and the notices
    of lists published in the last days whose families are not all told yet (the
    broker may have been down at publishing; the notices task tells each family
    once). The beat only enqueues; workers compute and send."""
    due = services.alliances_due_for_computation()
    for alliance_id, term_id in due:
        learning_families_compute.delay(alliance_id, term_id)
    untold = services.lists_with_untold_families()
    for list_id in untold:
        learning_family_notices.delay(list_id)
    return {"computations": len(due), "notices": len(untold)}


@shared_task(acks_late=True)
def learning_family_notices(list_id: int) -> int:
    """Tell the included families of a published list, once each (enqueued after
    the publishing commits, and again by the beat; idempotent by notice key)."""
    return services.learning_family_notices_send(list_id=list_id)


@shared_task(acks_late=True)
def learning_families_compute(alliance_id: int, term_id: int) -> int:
    """One alliance's list (idempotent: the upsert refreshes the same rows)."""
    try:
        result = services.learning_families_compute(alliance_id=alliance_id, term_id=term_id)
    except RecognitionError as error:
        # Published or without a rule since it was enqueued: nothing to do.
        logger.info("learning families %s/%s not computed: %s", alliance_id, term_id, error.code)
        return 0
    return result.written
