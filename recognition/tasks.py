"""Celery tasks of the recognition app: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services
from .errors import RecognitionError

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def learning_families_term_end() -> int:
    """Daily (beat): enqueue one computation per alliance whose term has ended and
    whose list is due (services.alliances_due_for_computation). The beat only
    enqueues; workers compute."""
    due = services.alliances_due_for_computation()
    for alliance_id, term_id in due:
        learning_families_compute.delay(alliance_id, term_id)
    return len(due)


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
