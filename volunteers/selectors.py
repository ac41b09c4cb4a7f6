"""Reads for the volunteer corps: a volunteer's record, the coordinators' queues
and the 三师联动 review page. Scoping asks members.access (through the
services' ``*_decidable_by`` / ``volunteers_managed_by``)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from courses.models import Course
from courses.services import reviewer_candidates
from members import access
from parent_school.models import Instructor, Term

from .models import ServiceHour, VolunteerApplication
from .services import applications_decidable_by, hours_decidable_by


def instructor_of(user) -> Instructor | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Instructor.objects.filter(user=user).select_related("unit").first()


def current_term() -> Term | None:
    return Term.objects.filter(is_current=True).first()


def volunteer_terms(instructor: Instructor) -> list[Term]:
    """The terms she has hours in, and the current one, newest first."""
    term_ids = ServiceHour.objects.filter(instructor=instructor).values("term_id")
    return list(Term.objects.filter(Q(pk__in=term_ids) | Q(is_current=True)))


def volunteer_record(instructor: Instructor, term: Term) -> dict:
    """Her hours of a term by source (counted: recorded and verified), the total,
    and her manual entries still waiting to be verified (one aggregate query)."""
    rows = (
        ServiceHour.objects.filter(instructor=instructor, term=term)
        .order_by()
        .values("source", "status")
        .annotate(hours=Sum("hours"), entries=Count("pk"))
    )
    labels = dict(ServiceHour.Source.choices)
    by_source = {
        source: {"label": labels[source], "hours": Decimal(0), "entries": 0}
        for source in ServiceHour.Source.values
    }
    pending = {"hours": Decimal(0), "entries": 0}
    for row in rows:
        if row["status"] in ServiceHour.COUNTED:
            by_source[row["source"]]["hours"] += row["hours"]
            by_source[row["source"]]["entries"] += row["entries"]
        elif row["status"] == ServiceHour.Status.PENDING:
            pending["hours"] += row["hours"]
            pending["entries"] += row["entries"]
    total = sum((s["hours"] for s in by_source.values()), Decimal(0))
    return {
        "term": term,
        "by_source": list(by_source.values()),
        "total": total,
        "pending": pending,
    }


def volunteer_hours(instructor: Instructor, term: Term) -> QuerySet[ServiceHour]:
    """Her rows of a term, newest first (a page is paginated by the view)."""
    return (
        ServiceHour.objects.filter(instructor=instructor, term=term)
        .select_related("unit")
        .order_by("-served_on", "-pk")
    )


def volunteer_units(instructor: Instructor) -> list:
    """Where she serves: her home unit and the centres that approved her."""
    units = {instructor.unit_id: instructor.unit}
    approved = (
        VolunteerApplication.objects.filter(
            instructor=instructor, status=VolunteerApplication.Status.APPROVED
        )
        .select_related("centre")
        .order_by("decided_at")
    )
    for application in approved:
        units.setdefault(application.centre_id, application.centre)
    return list(units.values())


def applications_of(user) -> QuerySet[VolunteerApplication]:
    return VolunteerApplication.objects.filter(user=user).select_related("centre")


def application_queue(user) -> QuerySet[VolunteerApplication]:
    """Applications waiting for this coordinator, oldest first."""
    return (
        applications_decidable_by(user)
        .filter(status=VolunteerApplication.Status.SUBMITTED)
        .select_related("centre")
        .order_by("created_at", "pk")
    )


def application_for_decider(user, application_id) -> VolunteerApplication | None:
    return (
        applications_decidable_by(user)
        .select_related("centre", "user")
        .filter(pk=application_id)
        .first()
    )


def hours_queue(user) -> QuerySet[ServiceHour]:
    """Manual entries waiting for this coordinator, oldest first."""
    return (
        hours_decidable_by(user)
        .filter(status=ServiceHour.Status.PENDING)
        .select_related("instructor", "unit", "term")
        .order_by("created_at", "pk")
    )


def may_coordinate_volunteers(user) -> bool:
    return access.is_coordinator(user)


# --- 三师联动 ---------------------------------------------------------------------------


def experts_pickable_by(user) -> QuerySet[Instructor]:
    """Experts a coordinator may name as a course's reviewer (the courses
    service's own rule, so the picker and the write agree)."""
    return reviewer_candidates(user).select_related("unit").order_by("name", "pk")


def courses_for_review(user, term: Term | None) -> QuerySet[Course]:
    """Courses of the term in the coordinator's scope, with their instructors and
    reviewer (prefetched: a page is a constant few queries)."""
    courses = Course.objects.filter(
        parent_school__host_unit__in=access.units_changeable_by(user).values("pk")
    )
    if term is not None:
        courses = courses.filter(term=term)
    return (
        courses.select_related("parent_school", "reviewer")
        .prefetch_related(Prefetch("instructors", queryset=Instructor.objects.order_by("name")))
        .order_by("parent_school__name", "title", "pk")
    )
