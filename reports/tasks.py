"""Celery tasks of the reports app: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from celery import shared_task
from django.conf import settings

from members import access
from members.services import audit_log_record
from parent_school.models import Term

from . import exports, services
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


def export_unit_ids(*, user, unit_id: int | None) -> list[int] | None:
    """The units an export may contain: the user's visible units (None = all), or one of them."""
    if unit_id is not None:
        return [unit_id] if access.can_view_unit(user, unit_id) else []
    if access.is_district_admin(user):
        return None
    return list(access.visible_unit_ids(user).values_list("pk", flat=True))


def export_directory() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@shared_task(acks_late=True)
def export_job_run(job_id: int) -> None:
    job = ReportJob.objects.select_related("term", "requested_by").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return
    unit_ids = export_unit_ids(user=job.requested_by, unit_id=job.unit_id)
    is_xlsx = job.kind == ReportJob.Kind.EXPORT_XLSX
    counter = exports.xlsx_row_count if is_xlsx else exports.raw_rows_count
    total = counter(term=job.term, unit_ids=unit_ids)
    services.report_job_start(job=job, rows_total=total)
    # An unguessable name: the file sits under MEDIA_ROOT, but only the
    # requester's download view hands it out.
    suffix = "xlsx" if is_xlsx else "csv"
    path = (
        export_directory() / f"term-{job.term.code}-{job.pk}-{secrets.token_urlsafe(12)}.{suffix}"
    )

    def progress(done: int) -> None:
        services.report_job_progress(job=job, done=done, total=max(total, 1))

    try:
        if is_xlsx:
            rows = exports.xlsx_write(
                term=job.term, unit_ids=unit_ids, out=str(path), progress=progress
            )
        else:
            with path.open("w", encoding="utf-8", newline="") as out:
                rows = exports.csv_write(
                    term=job.term, unit_ids=unit_ids, out=out, progress=progress
                )
    except Exception as error:
        logger.exception("export job %s failed", job_id)
        path.unlink(missing_ok=True)
        services.report_job_fail(job=job, error=type(error).__name__)
        raise
    audit_log_record(
        actor=job.requested_by,
        action=f"reports.export.{suffix}",
        target=job.term,
        data={"job": job.pk, "unit": job.unit_id, "rows": rows, "background": True},
    )
    services.report_job_finish(job=job, file_path=str(path.relative_to(settings.MEDIA_ROOT)))
