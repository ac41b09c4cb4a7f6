"""Celery tasks of the handbook: thin wrappers that take ids and call services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def claims_propose(offering_ids: list[int]) -> int:
    """After attendance commits: propose the matching at-school claims (idempotent)."""
    return services.claims_propose_from_attendance(offering_ids=offering_ids)


@shared_task(acks_late=True)
def claims_propose_sweep() -> int:
    """Nightly (beat): the whole current term, for anything a lost task missed."""
    return services.claims_propose_from_attendance(offering_ids=None)
