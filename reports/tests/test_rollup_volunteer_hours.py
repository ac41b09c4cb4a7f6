"""volunteer_hours: read from the volunteers' service-hours record (counted rows:
recorded and verified; pending and rejected never), by term, unit, parent
school and the month of ``served_on`` — no longer from course instructors."""

from decimal import Decimal

import pytest

from reports.models import ParticipationSnapshot
from reports.services import participation_rollup
from volunteers.models import ServiceHour
from volunteers.tests.factories import ServiceHourFactory

from .factories import (
    CourseFactory,
    InstructorFactory,
    ParentSchoolFactory,
    TermFactory,
    local,
    session_make,
)

pytestmark = pytest.mark.django_db

NOW = local(2026, 6, 15, 12)


@pytest.fixture
def world(db):
    term = TermFactory(code="2025-2026-2", is_current=True)
    other_term = TermFactory(
        code="2025-2026-1", starts_on=local(2025, 9, 1).date(), ends_on=local(2026, 1, 31).date()
    )
    school = ParentSchoolFactory(name="A家长学校")
    unit = school.host_unit
    volunteer = InstructorFactory(unit=unit, is_volunteer=True)
    course = CourseFactory(parent_school=school, term=term)
    # A held session whose course lists the volunteer: no record of it, no hours
    # (the old course-instructor join would have counted 2 h here).
    course.instructors.add(volunteer)
    session = session_make(course=course, starts_at=local(2026, 3, 10), hours=2)

    def hour(status, hours, served_on, **kwargs):
        return ServiceHourFactory(
            instructor=volunteer,
            term=kwargs.pop("term", term),
            unit=unit,
            served_on=served_on,
            hours=Decimal(hours),
            status=status,
            **kwargs,
        )

    # March, at the school: a recorded session (1.5) and a verified manual entry (1.0)
    hour(
        ServiceHour.Status.RECORDED,
        "1.5",
        local(2026, 3, 10).date(),
        source=ServiceHour.Source.SESSION,
        offering=session.offering,
        parent_school=school,
    )
    hour(ServiceHour.Status.VERIFIED, "1.0", local(2026, 3, 31).date(), parent_school=school)
    # April, at the unit (no parent school: an event or a consultation): recorded 2.5
    hour(ServiceHour.Status.RECORDED, "2.5", local(2026, 4, 1).date(), source="event")
    # never counted: pending and rejected entries, and another term's hours
    hour(ServiceHour.Status.PENDING, "3.0", local(2026, 3, 12).date(), parent_school=school)
    hour(ServiceHour.Status.REJECTED, "4.0", local(2026, 4, 2).date())
    hour(
        ServiceHour.Status.VERIFIED,
        "5.0",
        local(2025, 10, 1).date(),
        term=other_term,
        parent_school=school,
    )
    return term, school, unit


def hours_of(term, unit, school_key, period):
    return ParticipationSnapshot.objects.get(
        term=term, unit=unit, parent_school_key=school_key, period=period
    ).volunteer_hours


def test_volunteer_hours_come_from_the_counted_service_hours(world):
    term, school, unit = world

    # when
    participation_rollup(term=term, now=NOW)

    # then
    assert hours_of(term, unit, school.pk, "2026-03") == Decimal("2.5")  # 1.5 + 1.0
    assert hours_of(term, unit, school.pk, "term") == Decimal("2.5")
    assert hours_of(term, unit, 0, "2026-04") == Decimal("2.5")
    assert hours_of(term, unit, 0, "term") == Decimal("2.5")
    assert not ParticipationSnapshot.objects.filter(
        term=term, unit=unit, parent_school_key=school.pk, period="2026-04"
    ).exists()


def test_an_entry_counts_once_it_is_verified(world):
    term, school, unit = world
    participation_rollup(term=term, now=NOW)

    # when the pending entry is verified
    ServiceHour.objects.filter(status=ServiceHour.Status.PENDING).update(
        status=ServiceHour.Status.VERIFIED
    )
    participation_rollup(term=term, now=NOW)

    # then
    assert hours_of(term, unit, school.pk, "term") == Decimal("5.5")
