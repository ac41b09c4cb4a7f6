"""Who may answer a survey (docs/SURVEYS.md, "Surveys…").

* session / event: the families recorded as attending its offering (a confirmed
  booking marked present; check-in marks it);
* course: nobody — a course survey is a series, each session's child survey is
  answered;
* parent_school_term: families with a confirmed booking on a session of a course
  of that parent school in that term;
* alliance_term: families with a confirmed booking on any offering of a unit that
  is an active member of the alliance during the term, starting within the term;
* group: the group's active member families, now (groups.selectors.member_family_ids):
  a family that left, was removed or whose group was dissolved no longer answers.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from bookings.models import Booking
from groups.models import Group
from groups.selectors import member_family_ids
from members.models import Membership
from parent_school.selectors import term_window

from .models import Survey

PRESENT = Q(status=Booking.Status.CONFIRMED, attendance=Booking.Attendance.PRESENT)
CONFIRMED = Q(status=Booking.Status.CONFIRMED)


def alliance_unit_ids(alliance_id: int, term) -> QuerySet:
    memberships = Membership.objects.filter(alliance_id=alliance_id).filter(
        Q(left_on__isnull=True) | Q(left_on__gte=term.starts_on),
        Q(joined_on__isnull=True) | Q(joined_on__lte=term.ends_on),
    )
    return memberships.values("unit_id")


def bookings_counting(survey: Survey) -> QuerySet[Booking]:
    """The bookings that make a family eligible for ``survey``."""
    if survey.scope in Survey.ATTENDANCE_SCOPES:
        return Booking.objects.filter(PRESENT, offering_id=survey.offering_id)
    if survey.scope == Survey.Scope.PARENT_SCHOOL_TERM:
        return Booking.objects.filter(
            CONFIRMED,
            offering__course_session__course__parent_school_id=survey.parent_school_id,
            offering__course_session__course__term_id=survey.term_id,
        )
    if survey.scope == Survey.Scope.ALLIANCE_TERM:
        start, end = term_window(survey.term)
        return Booking.objects.filter(
            CONFIRMED,
            offering__unit_id__in=alliance_unit_ids(survey.alliance_id, survey.term),
            offering__starts_at__gte=start,
            offering__starts_at__lt=end,
        )
    return Booking.objects.none()


def eligible_families(survey: Survey) -> QuerySet:
    """Ids of the families who may answer ``survey`` (``values_list`` of family_id)."""
    if survey.scope == Survey.Scope.GROUP:
        return _group_families(survey)
    return (
        bookings_counting(survey)
        .order_by("family_id")
        .values_list("family_id", flat=True)
        .distinct()
    )


def _group_families(survey: Survey) -> QuerySet:
    if survey.group_id is None:
        return Booking.objects.none().values_list("family_id", flat=True)
    # member_family_ids is .values("family_id"); the callers want a flat list of ids
    # that they may filter and exclude on family_id.
    return (
        member_family_ids(survey.group_id)
        .filter(group__status=Group.Status.ACTIVE)
        .order_by("family_id")
        .values_list("family_id", flat=True)
    )


def is_eligible(survey: Survey, family_id: int) -> bool:
    if survey.scope == Survey.Scope.GROUP:
        return _group_families(survey).filter(family_id=family_id).exists()
    return bookings_counting(survey).filter(family_id=family_id).exists()
