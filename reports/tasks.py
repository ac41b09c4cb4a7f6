"""Celery tasks of the reports app: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from parent_school.models import Term

from . import services
from .models import ReportJob

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def rollup_current_term() -> int:
    """Nightly: recompute the current term's snapshots (idempotent upsert)."""
    term = Term.objects.filter(is_current=True).first()
    if term is None:
        return 0
    return services.participation_rollup(term=term)


@shared_task(acks_late=True)
def rollup_marked() -> int:
    """Every minute (beat) and a few seconds after a change (the kick): re-roll the
    snapshot keys that changes marked (idempotent: marks go only with their re-roll)."""
    return services.snapshot_marks_rollup()


@shared_task(acks_late=True)
def rollup_job_run(job_id: int) -> None:
    job = ReportJob.objects.select_related("term").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return
    services.report_job_start(job=job)
    try:
        services.participation_rollup(term=job.term, job=job, actor=job.requested_by)
    except Exception as error:
        logger.exception("roll-up job %s failed", job_id)
        services.report_job_fail(job=job, error=type(error).__name__)
        raise
    services.report_job_finish(job=job)


@shared_task(acks_late=True)
def export_job_run(job_id: int) -> None:
    """A queued term-report export (reports.services.report_export_job_run)."""
    job = ReportJob.objects.select_related("term", "requested_by").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return
    services.report_export_job_run(job=job)
