"""Writes of the reports app: the roll-up, the term-report exports, report jobs
and their progress.

Views, the Celery tasks and the management commands call these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from members import access
from members.models import MemberUnit
from members.services import audit_log_record
from parent_school.models import Term

from . import exports
from .errors import ReportError
from .models import (
    TERM_PERIOD,
    BrandSnapshot,
    HandbookSnapshot,
    ParticipationSnapshot,
    ReportJob,
    SnapshotMark,
    SurveySnapshot,
    UnitAttainment,
)
from .rollup import (
    BRAND_METRICS,
    HANDBOOK_METRICS,
    SURVEY_METRICS,
    attainment_achieved,
    brand_figures,
    compute_term_figures,
    handbook_figures,
    handbook_marks_insert_sql,
    marks_insert_sql,
    survey_figures,
    survey_marks_insert_sql,
)

logger = logging.getLogger(__name__)

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
    "consultations_held",
    "target_sessions",
    "target_met",
]


# The full roll-up and the passes over marks write the same snapshot rows: they
# take turns under one PostgreSQL advisory lock (the full roll-up waits; a pass
# that finds it taken leaves its marks for the next pass).
ROLLUP_LOCK = 7_265_706_901


def _snapshot_rows(figures: list[dict], *, term: Term, stamp) -> list[ParticipationSnapshot]:
    return [
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


def _snapshots_upsert(rows: list[ParticipationSnapshot]) -> None:
    ParticipationSnapshot.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["term", "unit", "parent_school_key", "period"],
        update_fields=["parent_school", "month", "computed_at", *SNAPSHOT_METRICS],
    )


def _term_unit_snapshots_write(model, metrics, *, term: Term, figures, stamp, unit_ids) -> int:
    """Upsert one row per unit of ``figures`` into ``model`` (keyed on term and
    unit) and remove the term's rows (of ``unit_ids`` only, when given) that they
    no longer name. The caller holds the transaction."""
    model.objects.bulk_create(
        [
            model(term=term, unit_id=f["unit_id"], computed_at=stamp, **{m: f[m] for m in metrics})
            for f in figures
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["term", "unit"],
        update_fields=["computed_at", *metrics],
    )
    stale = model.objects.filter(term=term).exclude(computed_at=stamp)
    if unit_ids is not None:
        stale = stale.filter(unit_id__in=list(unit_ids))
    stale.delete()
    return len(figures)


def handbook_snapshots_write(*, term: Term, figures: list[dict], stamp, unit_ids=None) -> int:
    """The handbook rows of ``figures`` (reports.rollup.handbook_figures)."""
    return _term_unit_snapshots_write(
        HandbookSnapshot,
        HANDBOOK_METRICS,
        term=term,
        figures=figures,
        stamp=stamp,
        unit_ids=unit_ids,
    )


def survey_snapshots_write(*, term: Term, figures: list[dict], stamp, unit_ids=None) -> int:
    """The questionnaire rows of ``figures`` (reports.rollup.survey_figures); a unit
    whose last survey was unpublished loses its row."""
    return _term_unit_snapshots_write(
        SurveySnapshot, SURVEY_METRICS, term=term, figures=figures, stamp=stamp, unit_ids=unit_ids
    )


def brand_snapshots_write(*, term: Term, figures: list[dict], stamp) -> int:
    """The brand rows of ``figures`` (reports.rollup.brand_figures), one per brand
    and term; a brand that held nothing in the term any more loses its row. The
    caller holds the transaction (the full roll-up's)."""
    BrandSnapshot.objects.bulk_create(
        [
            BrandSnapshot(
                term=term,
                brand_id=f["brand_id"],
                computed_at=stamp,
                **{m: f[m] for m in BRAND_METRICS},
            )
            for f in figures
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["term", "brand"],
        update_fields=["computed_at", *BRAND_METRICS],
    )
    BrandSnapshot.objects.filter(term=term).exclude(computed_at=stamp).delete()
    return len(figures)


def attainment_compute(*, term: Term, unit_ids=None, stamp=None) -> int:
    """考核: write UnitAttainment for every target (evaluation.UnitTarget of an
    active responsibility) of ``term`` — of ``unit_ids`` only, when given — from
    the snapshots the roll-up has just written: the unit's participation term
    rows summed (its parent schools and its events; the attendance rate is that
    of the sums), and its questionnaire row. ``achieved`` is None when there is
    nothing to measure (no held enrolments for a rate, no invitation, no
    satisfaction answer): not met, shown as 「暂无数据」 — or, for a satisfaction
    the small-group rule withholds (the survey row's ``satisfaction`` is NULL
    with answers there), 「样本不足，不显示」 (reports.selectors
    ``attainment_suppressed``). Rows of targets that
    are gone are removed. The caller holds the transaction (the roll-up's or a
    pass's); returns the rows written.

    At most four queries: the targets, the participation sums, the survey rows,
    the upsert — and the delete of rows no longer targeted."""
    from evaluation.models import UnitTarget

    stamp = stamp or timezone.now()
    targets = UnitTarget.objects.filter(term=term, responsibility__is_active=True)
    if unit_ids is not None:
        unit_ids = sorted(set(unit_ids))
        targets = targets.filter(unit_id__in=unit_ids)
    targets = list(
        targets.order_by().values_list(
            "unit_id", "responsibility_id", "responsibility__metric", "value"
        )
    )
    rows = []
    if targets:
        units = sorted({unit_id for unit_id, *_rest in targets})
        participation = {
            row["unit_id"]: row
            for row in ParticipationSnapshot.objects.filter(
                term=term, period=TERM_PERIOD, unit_id__in=units
            )
            .values("unit_id")
            .annotate(
                sessions_held=Sum("sessions_held"),
                events_held=Sum("events_held"),
                families=Sum("families"),
                person_times=Sum("person_times"),
                attendances=Sum("attendances"),
                enrolments_held=Sum("enrolments_held"),
            )
            .order_by()
        }
        surveys = {
            row["unit_id"]: row
            for row in SurveySnapshot.objects.filter(term=term, unit_id__in=units).values(
                "unit_id", "response_rate", "satisfaction"
            )
        }
        for unit_id, responsibility_id, metric, value in targets:
            achieved = attainment_achieved(metric, participation.get(unit_id), surveys.get(unit_id))
            rows.append(
                UnitAttainment(
                    term=term,
                    unit_id=unit_id,
                    responsibility_id=responsibility_id,
                    target=value,
                    achieved=achieved,
                    met=achieved is not None and achieved >= value,
                    computed_at=stamp,
                )
            )
        UnitAttainment.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["term", "unit", "responsibility"],
            update_fields=["target", "achieved", "met", "computed_at"],
        )
    stale = UnitAttainment.objects.filter(term=term).exclude(computed_at=stamp)
    if unit_ids is not None:
        stale = stale.filter(unit_id__in=unit_ids)
    stale.delete()
    return len(rows)


def participation_rollup(
    *, term: Term, now: dt.datetime | None = None, job: ReportJob | None = None, actor=None
) -> int:
    """Recompute every snapshot of ``term``; return the number of rows written.

    The figures come from aggregate queries (reports/rollup.py). They are written
    with one upsert keyed on (term, unit, parent school, period), and rows whose
    key no longer occurs are removed in the same transaction, so running it
    twice gives the same snapshot. Marks that were committed before it started
    are covered by it and deleted; later ones stay for the next pass.
    """
    now = now or timezone.now()

    def progress(step: int, total: int) -> None:
        if job is not None:
            # Committed at once (no transaction is open here) so the page sees it.
            report_job_progress(job=job, done=step, total=total + 1)

    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK])
    try:
        # Committed before the first query, so every query below sees their changes.
        covered = list(
            SnapshotMark.objects.filter(term=term).order_by().values_list("pk", flat=True)
        )
        figures = compute_term_figures(term=term, now=now, progress=progress)
        handbook = handbook_figures(term=term)
        surveys = survey_figures(term=term)
        brands = brand_figures(term=term, now=now)
        stamp = timezone.now()
        rows = _snapshot_rows(figures, term=term, stamp=stamp)
        with transaction.atomic():
            _snapshots_upsert(rows)
            ParticipationSnapshot.objects.filter(term=term).exclude(computed_at=stamp).delete()
            handbook_snapshots_write(term=term, figures=handbook, stamp=stamp)
            survey_snapshots_write(term=term, figures=surveys, stamp=stamp)
            brand_snapshots_write(term=term, figures=brands, stamp=stamp)
            # 考核 after the snapshots it reads, in the same transaction.
            attainment_compute(term=term, stamp=stamp)
            for start in range(0, len(covered), 10_000):
                SnapshotMark.objects.filter(pk__in=covered[start : start + 10_000]).delete()
            audit_log_record(
                actor=actor,
                action="reports.snapshot.rollup",
                target=term,
                data={"rows": len(rows)},
            )
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ROLLUP_LOCK])
    if job is not None:
        report_job_progress(job=job, done=1, total=1)
    return len(rows)


# --- incremental roll-ups ------------------------------------------------------------
#
# A change that a figure counts (a booking, cancellation or promotion, an attendance
# mark, a credit or its reversal, a completed lesson) writes a SnapshotMark in its
# own transaction (reports/receivers.py). After the commit a pass is queued a few
# seconds later (several changes share it), and beat runs one every minute for
# whatever a lost kick left. A pass re-rolls exactly the marked month rows and the
# term rows of their unit × parent school, with the roll-up's own SQL restricted to
# those keys (reports.rollup.compute_term_figures(keys=...)).


def snapshot_marks_write(*, offering_ids=(), credit_keys=(), lesson_progress_ids=()) -> None:
    """Mark the snapshot keys these changed rows touch (one INSERT … SELECT), in the
    caller's transaction, and queue a pass for after its commit."""
    statement = marks_insert_sql(
        offering_ids=offering_ids,
        credit_keys=credit_keys,
        lesson_progress_ids=lesson_progress_ids,
        marked_at=timezone.now(),
    )
    if statement is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(*statement)
    transaction.on_commit(snapshot_marks_kick, robust=True)


def handbook_marks_write(*, keys=(), family_list_ids=()) -> None:
    """Mark the handbook rows that changed: ``keys`` are (term id, unit id) of
    claims written, decided or removed; ``family_list_ids`` are learning-family
    lists whose entries or status changed (their entries' units). In the
    caller's transaction; a pass is queued for after its commit."""
    now = timezone.now()
    keys = {(term_id, unit_id) for term_id, unit_id in keys if term_id and unit_id}
    if keys:
        SnapshotMark.objects.bulk_create(
            [
                SnapshotMark(
                    term_id=term_id,
                    unit_id=unit_id,
                    parent_school_key=0,
                    period=TERM_PERIOD,
                    figures=SnapshotMark.Figures.HANDBOOK,
                    marked_at=now,
                )
                for term_id, unit_id in sorted(keys)
            ]
        )
    if family_list_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                *handbook_marks_insert_sql(family_list_ids=family_list_ids, marked_at=now)
            )
    if keys or family_list_ids:
        transaction.on_commit(snapshot_marks_kick, robust=True)


def survey_marks_write(*, survey_ids=(), keys=()) -> None:
    """Mark the questionnaire rows that changed: ``survey_ids`` are surveys whose
    invitations, answers or released responses changed (their term and unit);
    ``keys`` are (term id, unit id) pairs, e.g. of a unit target set or removed
    (its attainment). A pass re-rolls the unit's survey row and its attainment.
    In the caller's transaction; a pass is queued for after its commit."""
    now = timezone.now()
    keys = {(term_id, unit_id) for term_id, unit_id in keys if term_id and unit_id}
    survey_ids = {pk for pk in survey_ids if pk}
    if keys:
        SnapshotMark.objects.bulk_create(
            [
                SnapshotMark(
                    term_id=term_id,
                    unit_id=unit_id,
                    parent_school_key=0,
                    period=TERM_PERIOD,
                    figures=SnapshotMark.Figures.SURVEYS,
                    marked_at=now,
                )
                for term_id, unit_id in sorted(keys)
            ]
        )
    if survey_ids:
        with connection.cursor() as cursor:
            cursor.execute(*survey_marks_insert_sql(survey_ids=survey_ids, marked_at=now))
    if keys or survey_ids:
        transaction.on_commit(snapshot_marks_kick, robust=True)


def snapshot_marks_kick() -> None:
    """Queue one pass ``REPORTS_ROLLUP_DELAY_SECONDS`` from now, unless one is already
    queued (a burst of check-ins shares one pass). A lost kick (broker down) costs
    at most a minute: the beat pass finds the marks."""
    from . import tasks

    if tasks.rollup_marked.app.conf.task_always_eager:
        # Unit tests run tasks inline: a pass inside every test's commit would
        # hide what it is testing. They call snapshot_marks_rollup themselves.
        return
    delay = settings.REPORTS_ROLLUP_DELAY_SECONDS
    try:
        if cache.add("reports:rollup-marks-kick", 1, timeout=delay):
            tasks.rollup_marked.apply_async(countdown=delay + 1, retry=False)
    except Exception:
        logger.warning("could not queue a roll-up pass; beat will run one", exc_info=True)


def snapshot_keys_rollup(
    *, term: Term, keys: dict[tuple[int, int], set[str]], now: dt.datetime, stamp=None
) -> int:
    """Re-roll the month rows ``keys`` names ((unit, parent school key) → months) and
    the term rows of those keys. The caller holds the transaction. Returns rows written.
    """
    figures = compute_term_figures(term=term, now=now, keys=set(keys))
    stamp = stamp or timezone.now()
    wanted = [
        f
        for f in figures
        if f["period"] == TERM_PERIOD
        or f["period"] in keys[(f["unit_id"], f["parent_school_id"] or 0)]
    ]
    rows = _snapshot_rows(wanted, term=term, stamp=stamp)
    _snapshots_upsert(rows)
    # A key that no longer occurs (its last booking went) loses its row, as in
    # the full roll-up.
    gone = Q()
    for (unit_id, school_key), periods in keys.items():
        gone |= Q(unit_id=unit_id, parent_school_key=school_key, period__in=[*periods, TERM_PERIOD])
    ParticipationSnapshot.objects.filter(gone, term=term).exclude(computed_at=stamp).delete()
    return len(rows)


def snapshot_marks_rollup(
    *, now: dt.datetime | None = None, limit: int = 1000, max_batches: int = 20
) -> int:
    """One pass: claim marks, re-roll their keys, delete them; return the month keys
    re-rolled (each with the term row of its unit × parent school).

    Each batch is one transaction: the claimed marks are locked (``SKIP LOCKED``:
    a concurrent pass takes others), their keys re-rolled and the marks deleted on
    commit; a pass that fails or is killed leaves them for the next one. Writers
    never wait: they only insert new marks. ``now`` is for tests.
    """
    done = 0
    postgres = connection.vendor == "postgresql"
    for _batch in range(max_batches):
        with transaction.atomic():
            if postgres:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK])
                    if not cursor.fetchone()[0]:
                        return done  # a full roll-up (or another pass) is writing
            marks = list(
                SnapshotMark.objects.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "term_id", "unit_id", "parent_school_key", "period", "figures")[
                    :limit
                ]
            )
            if not marks:
                return done
            by_term: dict[int, dict[tuple[int, int], set[str]]] = {}
            handbook_units: dict[int, set[int]] = {}
            survey_units: dict[int, set[int]] = {}
            for _pk, term_id, unit_id, school_key, period, figures in marks:
                if figures == SnapshotMark.Figures.HANDBOOK:
                    handbook_units.setdefault(term_id, set()).add(unit_id)
                    continue
                if figures == SnapshotMark.Figures.SURVEYS:
                    survey_units.setdefault(term_id, set()).add(unit_id)
                    continue
                by_term.setdefault(term_id, {}).setdefault((unit_id, school_key), set()).add(period)
            pass_now = now or timezone.now()
            for term in Term.objects.filter(pk__in=[*by_term, *handbook_units, *survey_units]):
                if term.pk in by_term:
                    snapshot_keys_rollup(term=term, keys=by_term[term.pk], now=pass_now)
                    done += sum(len(periods) for periods in by_term[term.pk].values())
                if term.pk in handbook_units:
                    units = handbook_units[term.pk]
                    handbook_snapshots_write(
                        term=term,
                        figures=handbook_figures(term=term, unit_ids=units),
                        stamp=timezone.now(),
                        unit_ids=units,
                    )
                    done += len(units)
                if term.pk in survey_units:
                    units = survey_units[term.pk]
                    survey_snapshots_write(
                        term=term,
                        figures=survey_figures(term=term, unit_ids=units),
                        stamp=timezone.now(),
                        unit_ids=units,
                    )
                    done += len(units)
                # 考核 reads both kinds of rows: re-assess every unit re-rolled here.
                assessed = {unit_id for unit_id, _key in by_term.get(term.pk, {})}
                assessed |= survey_units.get(term.pk, set())
                if assessed:
                    attainment_compute(term=term, unit_ids=assessed)
            SnapshotMark.objects.filter(pk__in=[m[0] for m in marks]).delete()
        if len(marks) < limit:
            return done
    return done


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


# --- exports ------------------------------------------------------------------------
#
# One path for the term report, whoever asks: the coordinator's export form
# (reports.views.export), the worker (reports.tasks.export_job_run) and the
# command (export_term_report). report_export_start decides inline or background
# and names the file; the audit entry is written by _export_record only, once per
# export, with the same fields from every caller.

EXPORT_KINDS = {"xlsx": ReportJob.Kind.EXPORT_XLSX, "csv": ReportJob.Kind.EXPORT_CSV}
EXPORT_VIA_DOWNLOAD = "download"  # streamed to the browser now
EXPORT_VIA_BACKGROUND = "background"  # written by a worker, downloaded from the job page
EXPORT_VIA_COMMAND = "command"  # written by manage.py export_term_report


@dataclass(frozen=True)
class ReportExport:
    """What report_export_start decided for one export."""

    term: Term
    fmt: str
    unit_id: int | None
    #: The units in the file; None means every unit.
    unit_ids: list[int] | None
    rows: int
    #: The name the file is downloaded (or, by the command, written) under.
    filename: str
    #: Set when the export was queued to run in the background.
    job: ReportJob | None = None


def report_export_filename(*, term: Term, fmt: str, unit_id: int | None = None) -> str:
    unit = f"-unit{unit_id}" if unit_id else ""
    return f"term-report-{term.code}{unit}.{fmt}"


def export_unit_ids(*, user, unit_id: int | None) -> list[int] | None:
    """The units an export may contain: the user's visible units (None = all), or
    one of them. No user is the operator running the command: every unit."""
    if user is None:
        return None if unit_id is None else [unit_id]
    if unit_id is not None:
        return [unit_id] if access.can_view_unit(user, unit_id) else []
    if access.sees_every_district(user):
        return None
    return list(access.visible_unit_ids(user).values_list("pk", flat=True))


def _export_plan(*, actor, term: Term, fmt: str, unit_id: int | None) -> ReportExport:
    unit_ids = export_unit_ids(user=actor, unit_id=unit_id)
    counter = exports.xlsx_row_count if fmt == "xlsx" else exports.raw_rows_count
    return ReportExport(
        term=term,
        fmt=fmt,
        unit_id=unit_id,
        unit_ids=unit_ids,
        rows=counter(term=term, unit_ids=unit_ids),
        filename=report_export_filename(term=term, fmt=fmt, unit_id=unit_id),
    )


def report_export_start(
    *,
    actor,
    term: Term,
    fmt: str,
    unit_id: int | None = None,
    via: str = EXPORT_VIA_DOWNLOAD,
    ip_address: str | None = None,
) -> ReportExport:
    """Check the request, count the rows and decide how the export runs.

    From the export form (``via="download"``): more rows than
    ``EXPORT_BACKGROUND_THRESHOLD`` queue a job (returned in ``job``; the worker
    writes the file and records it); otherwise the export is recorded now and the
    caller streams it. From the command (``via="command"``) it never goes to the
    background; ``report_export_write`` writes and records it.
    Raises ReportError for an unknown format or a unit the actor may not see.
    """
    if fmt not in EXPORT_KINDS:
        raise ReportError("bad_format")
    if unit_id is not None:
        if actor is None:
            known = MemberUnit.objects.filter(pk=unit_id).exists()
        else:
            known = unit_id >= 0 and access.can_view_unit(actor, unit_id)
        if not known:
            raise ReportError("unknown_unit")
    export = _export_plan(actor=actor, term=term, fmt=fmt, unit_id=unit_id)
    if via != EXPORT_VIA_DOWNLOAD:
        return export
    if export.rows > settings.EXPORT_BACKGROUND_THRESHOLD:
        job = report_job_create(
            kind=EXPORT_KINDS[fmt], term=term, requested_by=actor, unit_id=unit_id
        )
        return replace(export, job=job)
    # Recorded before the response streams: a download cut short still happened.
    _export_record(export=export, actor=actor, via=via, ip_address=ip_address)
    return export


def report_export_write(
    *,
    export: ReportExport,
    out: str | Path,
    actor,
    via: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export to the file ``out`` and record it; returns the rows written."""
    path = Path(out)
    if export.fmt == "xlsx":
        rows = exports.xlsx_write(
            term=export.term,
            unit_ids=export.unit_ids,
            out=str(path),
            progress=progress,
            actor=actor,
        )
    else:
        with path.open("w", encoding="utf-8", newline="") as stream:
            rows = exports.csv_write(
                term=export.term, unit_ids=export.unit_ids, out=stream, progress=progress
            )
    _export_record(export=export, actor=actor, via=via, file=path.name)
    return rows


def report_export_job_run(*, job: ReportJob) -> None:
    """Run a queued export: write the file under MEDIA_ROOT and finish the job."""
    fmt = next(f for f, kind in EXPORT_KINDS.items() if kind == job.kind)
    export = replace(
        _export_plan(actor=job.requested_by, term=job.term, fmt=fmt, unit_id=job.unit_id),
        job=job,
    )
    report_job_start(job=job, rows_total=export.rows)
    # An unguessable folder: the file sits under MEDIA_ROOT, but only the
    # requester's download view hands it out, under the export's own name.
    folder = export_directory() / f"{job.pk}-{secrets.token_urlsafe(12)}"
    folder.mkdir()

    def progress(done: int) -> None:
        report_job_progress(job=job, done=done, total=max(export.rows, 1))

    try:
        report_export_write(
            export=export,
            out=folder / export.filename,
            actor=job.requested_by,
            via=EXPORT_VIA_BACKGROUND,
            progress=progress,
        )
    except Exception as error:
        logger.exception("export job %s failed", job.pk)
        shutil.rmtree(folder, ignore_errors=True)
        report_job_fail(job=job, error=type(error).__name__)
        raise
    file_path = (folder / export.filename).relative_to(settings.MEDIA_ROOT)
    report_job_finish(job=job, file_path=str(file_path))


def export_directory() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _export_record(
    *,
    export: ReportExport,
    actor,
    via: str,
    file: str | None = None,
    ip_address: str | None = None,
) -> None:
    """The one audit entry of an export (``reports.export.xlsx`` / ``.csv``)."""
    audit_log_record(
        actor=actor,
        action=f"reports.export.{export.fmt}",
        target=export.term,
        data={
            "format": export.fmt,
            "unit": export.unit_id,
            "rows": export.rows,
            "file": file or export.filename,
            "via": via,
            "job": export.job.pk if export.job else None,
        },
        ip_address=ip_address,
    )
