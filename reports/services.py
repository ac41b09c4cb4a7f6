"""Writes of the reports app: the roll-up, report jobs and their progress.

Views, the Celery tasks and the management commands call these functions.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from members.services import audit_log_record
from parent_school.models import Term

from .models import ParticipationSnapshot, ReportJob
from .rollup import compute_term_figures

SNAPSHOT_METRICS = [
    "sessions_planned",
    "sessions_held",
    "events_held",
    "enrolments",
    "enrolments_held",
    "attendances",
    "person_times",
    "families",
    "children",
    "attendance_rate",
    "credits_posted",
    "event_participants",
    "volunteer_hours",
    "lessons_completed",
    "target_sessions",
    "target_met",
]


def participation_rollup(
    *, term: Term, now: dt.datetime | None = None, job: ReportJob | None = None, actor=None
) -> int:
    """Recompute every snapshot of ``term``; return the number of rows written.

    The figures come from aggregate queries (reports/rollup.py). They are written
    with one upsert keyed on (term, unit, parent school, period), and rows whose
    key no longer occurs are removed in the same transaction, so running it
    twice gives the same snapshot.
    """
    now = now or timezone.now()

    def progress(step: int, total: int) -> None:
        if job is not None:
            # Committed at once (no transaction is open here) so the page sees it.
            report_job_progress(job=job, done=step, total=total + 1)

    figures = compute_term_figures(term=term, now=now, progress=progress)
    stamp = timezone.now()
    rows = [
        ParticipationSnapshot(
            term=term,
            unit_id=f["unit_id"],
            parent_school_id=f["parent_school_id"],
            parent_school_key=f["parent_school_id"] or 0,
            period=f["period"],
            month=f["month"],
            computed_at=stamp,
            **{metric: f[metric] for metric in SNAPSHOT_METRICS},
        )
        for f in figures
    ]
    with transaction.atomic():
        ParticipationSnapshot.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["term", "unit", "parent_school_key", "period"],
            update_fields=["parent_school", "month", "computed_at", *SNAPSHOT_METRICS],
        )
        ParticipationSnapshot.objects.filter(term=term).exclude(computed_at=stamp).delete()
        audit_log_record(
            actor=actor,
            action="reports.snapshot.rollup",
            target=term,
            data={"rows": len(rows)},
        )
    if job is not None:
        report_job_progress(job=job, done=1, total=1)
    return len(rows)


def report_job_create(
    *, kind: str, term: Term, requested_by, unit_id: int | None = None
) -> ReportJob:
    """Create a job row and queue its task after the commit."""
    from . import tasks

    job = ReportJob.objects.create(kind=kind, term=term, unit_id=unit_id, requested_by=requested_by)
    if kind == ReportJob.Kind.ROLLUP:
        tasks.rollup_job_run.delay_on_commit(job.pk)
    else:
        tasks.export_job_run.delay_on_commit(job.pk)
    return job


def report_job_start(*, job: ReportJob, rows_total: int = 0) -> None:
    job.status = ReportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.rows_total = rows_total
    job.save(update_fields=["status", "started_at", "rows_total"])


def report_job_progress(*, job: ReportJob, done: int, total: int) -> None:
    percent = 100 if total <= 0 else min(100, int(done * 100 / total))
    if job.kind != ReportJob.Kind.ROLLUP:
        job.rows_done = done
    job.progress = percent
    ReportJob.objects.filter(pk=job.pk).update(progress=percent, rows_done=job.rows_done)


def report_job_finish(*, job: ReportJob, file_path: str = "") -> None:
    job.status = ReportJob.Status.DONE
    job.progress = 100
    job.file_path = file_path
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "progress", "file_path", "finished_at"])


def report_job_fail(*, job: ReportJob, error: str) -> None:
    job.status = ReportJob.Status.FAILED
    job.error = error[:300]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
