"""Recompute and a background export through Redis and a real Celery worker."""

import csv
import io

import pytest
from django.urls import reverse

from reports.models import ParticipationSnapshot, ReportJob
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker


def _finished(job_id):
    job = ReportJob.objects.get(pk=job_id)
    return job if job.is_finished else None


def test_recompute_and_big_export_run_on_a_real_worker(
    celery_worker_process, dataset, people, client, settings
):
    # given: the worker process reads MEDIA_ROOT from its own settings, so the
    # file lands in the project's media/exports; threshold low enough for 12 rows
    settings.EXPORT_BACKGROUND_THRESHOLD = 5
    client.force_login(people.u1)

    # when: recompute
    response = client.post(reverse("reports:recompute"), {"term": dataset.term.code})
    job = ReportJob.objects.get(kind=ReportJob.Kind.ROLLUP)

    # then
    assert response.url == reverse("reports:job", args=[job.pk])
    done = wait_for(lambda: _finished(job.pk), timeout=60)
    assert done.status == ReportJob.Status.DONE and done.progress == 100
    assert ParticipationSnapshot.objects.filter(
        term=dataset.term, parent_school=dataset.ps_a, period="term", target_met=True
    ).exists()

    # when: a CSV above the threshold
    response = client.post(reverse("reports:export"), {"term": dataset.term.code, "format": "csv"})
    export_job = ReportJob.objects.get(kind=ReportJob.Kind.EXPORT_CSV)

    # then: the worker writes the file; only the requester may download it
    done = wait_for(lambda: _finished(export_job.pk), timeout=60)
    assert done.status == ReportJob.Status.DONE, done.error
    assert done.rows_total == 12 and done.rows_done == 12
    download = reverse("reports:job_download", args=[done.pk])
    try:
        response = client.get(download)
        rows = list(
            csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
        )
        assert len(rows) == 13 and {r[1] for r in rows[1:]} == {"第一小学"}
        client.force_login(people.alliance)
        assert client.get(download).status_code == 404
    finally:
        import shutil
        from pathlib import Path

        # Each export has its own unguessable folder under media/exports.
        shutil.rmtree(Path(settings.MEDIA_ROOT, done.file_path).parent, ignore_errors=True)


def test_a_check_in_reaches_the_dashboard_through_a_real_worker(celery_worker_process, settings):
    from django.utils import timezone

    from courses.services import session_attendance_mark
    from reports.models import SnapshotMark
    from reports.services import participation_rollup
    from reports.tests.test_rollup_incremental import assert_identical, build_world, month_of

    # given a full roll-up, and a pass queued one second after each change
    settings.REPORTS_ROLLUP_DELAY_SECONDS = 1
    now = timezone.now()
    w = build_world(now)
    participation_rollup(term=w.term, now=now)
    key = dict(
        term=w.term,
        unit=w.u1,
        parent_school=w.ps_a,
        period=month_of(w.recent.offering.starts_at),
    )
    assert ParticipationSnapshot.objects.get(**key).attendances == 0

    # when two families are marked present (committed: the kick goes to Redis)
    for booking in w.recent_bookings[:2]:
        session_attendance_mark(
            session=w.recent, booking_id=booking.pk, present=True, marked_by=None
        )
    assert SnapshotMark.objects.exists()

    # then the worker re-rolls the key within seconds, with nothing left marked
    wait_for(lambda: ParticipationSnapshot.objects.get(**key).attendances == 2, timeout=60)
    wait_for(lambda: not SnapshotMark.objects.exists(), timeout=30)
    assert_identical(w.term, timezone.now())
