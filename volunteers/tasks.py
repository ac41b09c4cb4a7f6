"""Celery tasks of the volunteer corps: thin wrappers over volunteers.services."""

from __future__ import annotations

from celery import shared_task

from parent_school.models import Term

from . import services


@shared_task(acks_late=True, ignore_result=True)
def hours_record(term_id: int | None = None) -> int:
    """The beat entry (nightly): record the automatic service hours of a term (the
    current one by default) from the sessions, events and consultations volunteers
    led. Safe to run twice (acks_late): one row per volunteer and offering."""
    terms = Term.objects.filter(pk=term_id) if term_id else Term.objects.filter(is_current=True)
    term = terms.first()
    if term is None:
        return 0
    return services.service_hours_record(term=term)
