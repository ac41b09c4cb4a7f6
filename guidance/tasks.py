"""Celery tasks of the guidance station: thin wrappers over guidance.services."""

from __future__ import annotations

from celery import shared_task

from . import services

# --- slots -------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True)
def patterns_materialise() -> int:
    """The beat entry (nightly): make the slots of every active weekly pattern for
    the next GUIDANCE_PATTERN_WEEKS weeks. Safe to run twice: a pattern has one
    slot per date (unique (pattern, occurs_on))."""
    return services.patterns_materialise()


# --- follow-ups and satisfaction ---------------------------------


@shared_task(acks_late=True, ignore_result=True)
def followups_send() -> int:
    """The beat entry (every 5 minutes): the follow-ups due are sent through the
    outbox, once each (notice key ``guidance.followup:<id>``; rows claimed with
    SKIP LOCKED and marked sent in the same transaction), so a redelivery or two
    workers at once send nothing twice."""
    return services.followups_send()
