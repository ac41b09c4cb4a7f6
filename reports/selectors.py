"""Reads for the dashboards. Everything here reads snapshots, never raw rows."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum

from members import access
from parent_school.models import Term

from .errors import ReportError
from .models import TERM_PERIOD, ParticipationSnapshot, ReportJob

SUMMED = [
    "sessions_held",
    "sessions_planned",
    "events_held",
    "enrolments",
    "enrolments_held",
    "attendances",
    "person_times",
    "families",
    "children",
    "credits_posted",
    "event_participants",
    "volunteer_hours",
    "lessons_completed",
]


def term_choose(*, code: str | None) -> Term:
    """The term named by ``code``, else the current one, else the latest."""
    if code:
        term = Term.objects.filter(code=code).first()
        if term is None:
            raise ReportError("unknown_term")
        return term
    term = (
        Term.objects.filter(is_current=True).first() or Term.objects.order_by("-starts_on").first()
    )
    if term is None:
        raise ReportError("no_term")
    return term


def term_list() -> list[Term]:
    return list(Term.objects.order_by("-starts_on")[:20])


def snapshots_for(*, user, term: Term) -> QuerySet[ParticipationSnapshot]:
    """The term's snapshots of the units ``user`` may see."""
    qs = ParticipationSnapshot.objects.filter(term=term)
    if not access.is_district_admin(user):
        qs = qs.filter(unit_id__in=access.visible_unit_ids(user))
    return qs


def _rate(attendances, enrolments_held):
    if not enrolments_held:
        return None
    return (Decimal(attendances) * 100 / Decimal(enrolments_held)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def key_figures(qs: QuerySet) -> dict:
    """Totals over the term rows of ``qs`` (one query), plus target counts."""
    figures = qs.filter(period=TERM_PERIOD).aggregate(
        **{f: Sum(f) for f in SUMMED},
        schools=Count("pk", filter=Q(parent_school__isnull=False)),
        schools_met=Count("pk", filter=Q(target_met=True)),
        last_computed=Max("computed_at"),
    )
    for field in SUMMED:
        figures[field] = figures[field] or 0
    figures["attendance_rate"] = _rate(figures["attendances"], figures["enrolments_held"])
    return figures


def monthly_trend(qs: QuerySet) -> list[dict]:
    """One dict per month: the figures summed over the rows of ``qs``."""
    rows = (
        qs.exclude(period=TERM_PERIOD)
        .values("period")
        .annotate(
            sessions=Sum("sessions_held"),
            events=Sum("events_held"),
            person_times=Sum("person_times"),
            attendances=Sum("attendances"),
            enrolments_held=Sum("enrolments_held"),
            credits=Sum("credits_posted"),
        )
        .order_by("period")
    )
    result = []
    for row in rows:
        row["attendance_rate"] = _rate(row["attendances"], row["enrolments_held"])
        result.append(row)
    return result


def unit_comparison(qs: QuerySet) -> list[dict]:
    """Term figures per unit, most person-times first."""
    rows = (
        qs.filter(period=TERM_PERIOD)
        .values("unit_id", "unit__name")
        .annotate(
            sessions=Sum("sessions_held"),
            events=Sum("events_held"),
            person_times=Sum("person_times"),
            families=Sum("families"),
            attendances=Sum("attendances"),
            enrolments_held=Sum("enrolments_held"),
            credits=Sum("credits_posted"),
            schools=Count("pk", filter=Q(parent_school__isnull=False)),
            schools_met=Count("pk", filter=Q(target_met=True)),
        )
        .order_by("-person_times", "unit__name")
    )
    result = []
    for row in rows:
        row["attendance_rate"] = _rate(row["attendances"], row["enrolments_held"])
        result.append(row)
    return result


def school_comparison(qs: QuerySet) -> QuerySet:
    """Term rows per parent school (and the unit's event row), most person-times first."""
    return (
        qs.filter(period=TERM_PERIOD)
        .select_related("parent_school", "unit")
        .order_by("-person_times", "parent_school_key")
    )


def target_table(qs: QuerySet) -> QuerySet:
    """Parent schools' term rows: not met first, then by unit and name."""
    return (
        qs.filter(period=TERM_PERIOD, parent_school__isnull=False)
        .select_related("parent_school", "unit")
        .order_by("target_met", "unit__name", "parent_school__name")
    )


def rollup_job_open(*, term: Term) -> ReportJob | None:
    return (
        ReportJob.objects.filter(
            term=term,
            kind=ReportJob.Kind.ROLLUP,
            status__in=[ReportJob.Status.QUEUED, ReportJob.Status.RUNNING],
        )
        .order_by("-created_at")
        .first()
    )


def jobs_of(*, user, limit: int = 10) -> list[ReportJob]:
    return list(ReportJob.objects.filter(requested_by=user).select_related("term", "unit")[:limit])
