"""A family's week, built through the real services: a course session and an event
the same evening, a waiting place, a past attended session with credits."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Offering
from bookings.tests.conftest import make_family
from courses import services as course_services
from courses.tests.factories import CourseFactory, make_session
from events.services import event_register
from events.tests.factories import make_event
from members.tests.factories import ChildFactory, GuardianFactory, UserFactory
from parent_school.tests.factories import TermFactory


def book(offering_id, family, guardians, children=()):
    return booking_services.booking_create(
        offering_id=offering_id,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[g.pk for g in guardians],
        child_ids=[c.pk for c in children],
    )


def fill_up(offering_id, *, families: int = 1):
    """Other families take every place (each books one person)."""
    for _ in range(families):
        other, other_guardians, _kids = make_family()
        book(offering_id, other, other_guardians[:1])


def move(offering_id, *, starts_at, hours=2):
    Offering.objects.filter(pk=offering_id).update(
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours)
    )


@pytest.fixture
def week(db):
    """王妈妈 (signed in by the test), her co-guardian and 小明, with:
    a course session and an event this evening (in 3 hours), a waiting place on a
    full session (2nd in line), and a session held yesterday that 王妈妈 and 小明
    attended (2 credits each)."""
    mother = GuardianFactory(user=UserFactory(display_name="王妈妈"), relation="mother")
    family = mother.family
    father = GuardianFactory(family=family, relation="father", user=UserFactory(display_name=""))
    child = ChildFactory(family=family, nickname="小明")
    evening = timezone.now() + timedelta(hours=3)

    course = CourseFactory(title="亲子沟通的艺术")
    session = make_session(course, capacity=10, venue="溪口社区活动室")
    move(session.offering_id, starts_at=evening)
    session.offering.refresh_from_db()
    course_booking = book(session.offering_id, family, [mother], [child])

    event = make_event(
        title="家庭教育讲座：青春期亲子沟通",
        starts_at=evening + timedelta(minutes=30),
        venue="",
        online_url="https://meeting.example.cn/j/123",
    )
    event_booking = event_register(
        event_id=event.pk, family=family, booked_by=mother.user, guardian_ids=[mother.pk]
    )

    full = make_session(CourseFactory(title="满员的课"), capacity=1)
    fill_up(full.offering_id, families=2)  # one confirmed, one waiting ahead of us
    waiting = book(full.offering_id, family, [mother])

    term = TermFactory(code="2026-2027-1", school_year="2026–2027")
    past = make_session(
        CourseFactory(title="上过的课", term=term, credits=2), starts_in=timedelta(minutes=1)
    )
    attended = book(past.offering_id, family, [mother], [child])
    course_services.session_attendance_mark(
        session=past, booking_id=attended.pk, present=True, marked_by=None
    )
    move(past.offering_id, starts_at=timezone.now() - timedelta(days=1))
    past.offering.refresh_from_db()

    return SimpleNamespace(
        mother=mother,
        father=father,
        child=child,
        family=family,
        course=course,
        session=session,
        course_booking=course_booking,
        event=event,
        event_booking=event_booking,
        full=full,
        waiting=waiting,
        past=past,
        attended=attended,
    )
