"""Celery tasks of the boards: thin wrappers over community.services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def digests_send() -> int:
    """The beat entry (every evening, COMMUNITY_DIGEST_HOUR): one digest per person
    with waiting board notices. Safe to run twice (acks_late): a person's digest
    of a day has one key, and its entries are marked sent with it."""
    return services.digests_send()
