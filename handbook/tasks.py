"""Celery tasks of the handbook: thin wrappers that take ids and call services."""

from __future__ import annotations

from celery import shared_task

from parent_school.selectors import term_current

from . import selectors, services


@shared_task(acks_late=True)
def claims_propose(offering_ids: list[int]) -> int:
    """After attendance commits: propose the matching at-school claims and withdraw
    the proposals whose attendance was undone (idempotent)."""
    return services.claims_propose_from_attendance(offering_ids=offering_ids)


@shared_task(acks_late=True)
def claims_propose_sweep() -> int:
    """Nightly (beat): the current term's offerings that need it, chosen in SQL
    (``selectors.offerings_to_propose``), handed to the workers as
    ``claims_propose`` tasks of ``services.SWEEP_CHUNK`` offerings each.
    Returns the number of offerings enqueued."""
    term = term_current()
    if term is None:
        return 0
    ids = selectors.offerings_to_propose(term=term)
    for start in range(0, len(ids), services.SWEEP_CHUNK):
        claims_propose.delay(ids[start : start + services.SWEEP_CHUNK])
    return len(ids)
