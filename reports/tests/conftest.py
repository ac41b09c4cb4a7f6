"""The hand-built dataset of the roll-up tests. Expected figures are worked out
by hand in test_rollup.py from the comments below."""

from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from django.utils import timezone

from bookings.models import Booking, Offering
from courses.models import CreditEntry, LessonProgress, OnlineLesson
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from volunteers.models import ServiceHour
from volunteers.tests.factories import ServiceHourFactory

from .factories import (
    CourseFactory,
    InstructorFactory,
    ParentSchoolFactory,
    TargetFactory,
    TermFactory,
    booking_make,
    event_make,
    local,
    session_make,
)

PRESENT = Booking.Attendance.PRESENT
ABSENT = Booking.Attendance.ABSENT


def _credit(*, family, term, course, amount, when, key, booking=None):
    # created_at is auto_now_add: pin "now" to the posting time.
    with mock.patch("django.utils.timezone.now", return_value=when):
        return CreditEntry.objects.create(
            key=key,
            family=family,
            term=term,
            course=course,
            amount=Decimal(amount),
            reason=CreditEntry.Reason.ATTENDANCE,
            booking=booking,
        )


@pytest.fixture
def dataset(db):
    d = SimpleNamespace()
    d.now = local(2026, 6, 15, 12)
    d.term = TermFactory(code="2025-2026-2", is_current=True)
    d.other_term = TermFactory(
        code="2025-2026-1", starts_on=local(2025, 9, 1).date(), ends_on=local(2026, 1, 31).date()
    )
    d.alliance = AllianceFactory()
    d.u1 = MemberUnitFactory(name="第一小学")
    d.u2 = MemberUnitFactory(name='=HYPERLINK("x")社区')  # a formula-like name
    d.u3 = MemberUnitFactory(name="第三中学")
    MembershipFactory(alliance=d.alliance, unit=d.u1)
    MembershipFactory(alliance=d.alliance, unit=d.u2)

    d.ps_a = ParentSchoolFactory(name="A家长学校", host_unit=d.u1)
    d.ps_b = ParentSchoolFactory(name="B家长学校", host_unit=d.u1)
    d.ps_c = ParentSchoolFactory(name="C家长学校", host_unit=d.u2)
    d.ps_d = ParentSchoolFactory(name="D家长学校", host_unit=d.u2)  # active, nothing held
    d.ps_e = ParentSchoolFactory(name="E家长学校", host_unit=d.u2, is_active=False)
    TargetFactory(parent_school=d.ps_a, term=d.term, sessions_required=2)
    TargetFactory(parent_school=d.ps_c, term=d.term, sessions_required=1)

    d.volunteer = InstructorFactory(unit=d.u1, is_volunteer=True)
    d.staff = InstructorFactory(unit=d.u1, is_volunteer=False)
    d.course_a = CourseFactory(parent_school=d.ps_a, term=d.term, title="亲子沟通")
    d.course_a.instructors.add(d.volunteer, d.staff)
    d.course_b = CourseFactory(parent_school=d.ps_b, term=d.term, title="+法治教育")
    d.course_c = CourseFactory(parent_school=d.ps_c, term=d.term, title="心理健康")
    d.course_c.instructors.add(d.volunteer)
    d.course_old = CourseFactory(parent_school=d.ps_a, term=d.other_term)

    # Sessions: A1 (Mar, 2h), A2 (Apr, 1.5h), A3 (Apr, cancelled), A4 (Jun 20, after "now"),
    # B1 (Mar), C1 (May, 1h), and one of another term.
    d.a1 = session_make(course=d.course_a, starts_at=local(2026, 3, 10), hours=2)
    d.a2 = session_make(course=d.course_a, starts_at=local(2026, 4, 5), hours=1.5)
    d.a3 = session_make(
        course=d.course_a, starts_at=local(2026, 4, 20), status=Offering.Status.CANCELLED
    )
    d.a4 = session_make(course=d.course_a, starts_at=local(2026, 6, 20))
    d.b1 = session_make(course=d.course_b, starts_at=local(2026, 3, 15))
    d.c1 = session_make(course=d.course_c, starts_at=local(2026, 5, 1), hours=1)
    d.old = session_make(course=d.course_old, starts_at=local(2025, 10, 1))
    # Events of u1: E1 (Apr, held), E3 (May, draft); E2 of u2 falls after the term.
    d.e1 = event_make(unit=d.u1, starts_at=local(2026, 4, 10))
    d.e2 = event_make(unit=d.u2, starts_at=local(2026, 7, 15))
    d.e3 = event_make(unit=d.u1, starts_at=local(2026, 5, 5), status="draft")

    # Families: F1 (child k1), F2 (children k2, k3), F3 (no child).
    d.g1 = GuardianFactory(user=UserFactory(phone="13812341234", display_name="王妈妈"))
    d.g2 = GuardianFactory(user=UserFactory(phone="13900001111", display_name="@李爸爸"))
    d.g3 = GuardianFactory(user=UserFactory(phone="13700002222"))
    d.f1, d.f2, d.f3 = d.g1.family, d.g2.family, d.g3.family
    d.k1 = ChildFactory(family=d.f1)
    d.k2 = ChildFactory(family=d.f2)
    d.k3 = ChildFactory(family=d.f2)

    def book(session_or_event, guardian, **kwargs):
        return booking_make(
            offering=session_or_event.offering, family=guardian.family, guardian=guardian, **kwargs
        )

    d.bk_a1_f1 = book(d.a1, d.g1, children=[d.k1], attendance=PRESENT)  # party 2
    book(d.a1, d.g2, children=[d.k2, d.k3], attendance=ABSENT)  # party 3
    book(d.a1, d.g3, status=Booking.Status.CANCELLED)
    d.bk_a2_f1 = book(d.a2, d.g1, children=[d.k1], attendance=PRESENT)  # party 2
    d.bk_a2_f3 = book(d.a2, d.g3, attendance=PRESENT)  # party 1
    book(d.a2, d.g2, children=[d.k2, d.k3], status=Booking.Status.WAITING)
    book(d.a3, d.g1, children=[d.k1])  # on the cancelled session
    book(d.a4, d.g2)  # party 1, in the future
    d.bk_b1_f3 = book(d.b1, d.g3, attendance=PRESENT)
    book(d.c1, d.g1)  # party 1, attendance not marked
    book(d.old, d.g1, attendance=PRESENT)
    book(d.e1, d.g2, children=[d.k2], attendance=PRESENT)  # party 2
    book(d.e1, d.g3)  # party 1
    book(d.e2, d.g1)
    book(d.e3, d.g1)

    _credit(
        family=d.f1,
        term=d.term,
        course=d.course_a,
        amount="1.0",
        when=local(2026, 3, 10, 12),
        key="a1f1",
        booking=d.bk_a1_f1,
    )
    _credit(
        family=d.f1,
        term=d.term,
        course=d.course_a,
        amount="1.0",
        when=local(2026, 4, 5, 12),
        key="a2f1",
        booking=d.bk_a2_f1,
    )
    _credit(
        family=d.f3,
        term=d.term,
        course=d.course_a,
        amount="1.5",
        when=local(2026, 4, 5, 12),
        key="a2f3",
        booking=d.bk_a2_f3,
    )
    _credit(
        family=d.f3,
        term=d.term,
        course=d.course_b,
        amount="1.0",
        when=local(2026, 3, 15, 12),
        key="b1f3",
        booking=d.bk_b1_f3,
    )
    _credit(
        family=d.f1,
        term=d.other_term,
        course=d.course_old,
        amount="1.0",
        when=local(2025, 10, 1, 12),
        key="old",
    )

    # The volunteer's service-hours record (volunteers.ServiceHour, what the roll-up's
    # volunteer hours read): A1 2 h, A2 1.5 h, C1 1 h as the portal records them, and
    # a pending and a rejected hand entry that count nowhere.
    for session, hours in ((d.a1, "2.0"), (d.a2, "1.5"), (d.c1, "1.0")):
        ServiceHourFactory(
            instructor=d.volunteer,
            term=d.term,
            source=ServiceHour.Source.SESSION,
            offering=session.offering,
            unit=session.course.parent_school.host_unit,
            parent_school=session.course.parent_school,
            served_on=timezone.localdate(session.offering.starts_at),
            hours=Decimal(hours),
            status=ServiceHour.Status.RECORDED,
        )
    for status in (ServiceHour.Status.PENDING, ServiceHour.Status.REJECTED):
        ServiceHourFactory(
            instructor=d.volunteer,
            term=d.term,
            unit=d.u1,
            served_on=local(2026, 4, 1).date(),
            hours=Decimal("3.0"),
            status=status,
        )

    lesson_a = OnlineLesson.objects.create(course=d.course_a, title="微课1", duration_seconds=600)
    lesson_c = OnlineLesson.objects.create(course=d.course_c, title="微课2", duration_seconds=600)
    LessonProgress.objects.create(
        lesson=lesson_a, family=d.f1, percent=100, completed_at=local(2026, 4, 12)
    )
    LessonProgress.objects.create(lesson=lesson_a, family=d.f2, percent=40)
    LessonProgress.objects.create(
        lesson=lesson_c, family=d.f3, percent=100, completed_at=local(2026, 5, 2)
    )
    return d


@pytest.fixture
def people(dataset):
    """A district admin, the alliance's coordinator, u1's coordinator, u3's coordinator, a parent."""
    d = dataset
    admin = UserFactory(username="district")
    RoleAssignmentFactory(user=admin, role=RoleAssignment.Role.CITY_ADMIN, unit=None)
    alliance_coord = UserFactory(username="alliance_coord")
    RoleAssignmentFactory(
        user=alliance_coord,
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR,
        unit=None,
        alliance=d.alliance,
    )
    u1_coord = UserFactory(username="u1_coord")
    RoleAssignmentFactory(user=u1_coord, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=d.u1)
    u3_coord = UserFactory(username="u3_coord")
    RoleAssignmentFactory(user=u3_coord, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=d.u3)
    return SimpleNamespace(
        admin=admin, alliance=alliance_coord, u1=u1_coord, u3=u3_coord, parent=d.g1.user
    )
