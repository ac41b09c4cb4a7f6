"""Celery tasks: thin wrappers that take ids and call events/reminders.py."""

from __future__ import annotations

from celery import shared_task

from . import reminders


@shared_task(acks_late=True, ignore_result=True)
def reminders_run_due() -> dict:
    """The beat entry (every minute): plan, claim and dispatch due deliveries."""
    result = reminders.reminder_pass_run()
    return {"planned": result.planned, "claimed": result.claimed, "tasks": result.tasks}


@shared_task(acks_late=True, ignore_result=True)
def deliveries_dispatch(follow_up: bool = False) -> dict:
    """Asked for after a commit that made notices, or by a pass that hit its bound
    (``follow_up``: a backlog keeps draining as the workers free up, instead of
    waiting for the next beat): claim and dispatch due rows now."""
    if follow_up:
        from django.core.cache import cache

        cache.delete(reminders.CONTINUE_KEY)
    result = reminders.deliveries_dispatch_due()
    return {"claimed": result.claimed, "tasks": result.tasks, "more": result.more}


@shared_task(acks_late=True, ignore_result=True)
def deliveries_send(delivery_ids: list[int], claim_token: str) -> dict:
    """Send claimed deliveries. Safe to run twice (redelivery, acks_late): a row
    is sent only by the holder of its current claim token, under a row lock.
    Failures go back to the database with a backoff (no countdown tasks); a row
    stranded by a dead worker is claimed again when its lease runs out."""
    return reminders.delivery_send_batch(delivery_ids=delivery_ids, claim_token=claim_token)
