"""Course sessions cancelled or moved through the courses services: families are
told once, through the same delivery rows as events, and reminders follow."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from bookings.models import Booking, Offering
from bookings.services import booking_create
from courses.models import Course
from courses.services import course_session_update
from courses.tests.factories import CourseFactory, make_session
from events.models import Delivery
from events.reminders import reminder_pass_run
from members.models import AuditLog, RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _book(session, guardian=None):
    guardian = guardian or GuardianFactory()
    return booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )


def test_a_coordinator_cancels_a_session_and_booked_and_waiting_families_are_told_once(
    client, django_capture_on_commit_callbacks
):
    # given a session with one confirmed and one waiting family, and its unit's coordinator
    course = CourseFactory(title="亲子沟通工作坊")
    session = make_session(course, capacity=1, starts_in=datetime.timedelta(days=2))
    confirmed, waiting = _book(session), _book(session)
    assert waiting.status == Booking.Status.WAITING
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=session.offering.unit
    ).user
    client.force_login(coordinator)

    # when the coordinator cancels it from the roster page, and the reminder pass runs twice
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/courses/sessions/{session.pk}/cancel/")
    with django_capture_on_commit_callbacks(execute=True):
        reminder_pass_run()
        reminder_pass_run()

    # then the session is closed, the catalogue no longer counts it, and each family got
    # exactly one cancellation email
    assert response.status_code == 302
    session.offering.refresh_from_db()
    assert session.offering.status == Offering.Status.CANCELLED
    assert Course.objects.get(pk=course.pk).next_session_at is None
    cancelled = Delivery.objects.filter(
        offering=session.offering, purpose=Delivery.Purpose.CANCELLED
    )
    assert {d.booking_id for d in cancelled} == {confirmed.pk, waiting.pk}
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 2
    assert all(s.startswith("【课程场次取消】亲子沟通工作坊") for s in subjects)
    assert AuditLog.objects.filter(action="courses.session.cancel").count() == 1


def test_only_coordinators_of_the_unit_may_cancel(client):
    session = make_session(CourseFactory(), starts_in=datetime.timedelta(days=2))
    instructor = RoleAssignmentFactory(
        role=RoleAssignment.Role.INSTRUCTOR, unit=session.offering.unit
    ).user
    stranger = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user
    for user in (instructor, stranger):
        client.force_login(user)
        assert client.post(f"/courses/sessions/{session.pk}/cancel/").status_code == 404
    client.force_login(UserFactory())
    assert client.post(f"/courses/sessions/{session.pk}/cancel/").status_code == 403
    session.offering.refresh_from_db()
    assert session.offering.status == Offering.Status.OPEN


def test_moving_a_session_tells_families_once_and_the_catalogue_follows(
    django_capture_on_commit_callbacks,
):
    # given a booked session in three days
    course = CourseFactory(title="家庭教育讲座")
    session = make_session(course, starts_in=datetime.timedelta(days=3))
    booking = _book(session)
    new_start = (timezone.now() + datetime.timedelta(days=5)).replace(microsecond=0)

    # when it is moved twice to the same new time (a form saved twice)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            course_session_update(
                session=session,
                starts_at=new_start,
                ends_at=new_start + datetime.timedelta(hours=2),
                capacity=session.offering.capacity,
                venue="社区活动室",
                online_url="",
            )
        session.refresh_from_db()

    # then one "time changed" notice per channel, and the course sorts by the new time
    notices = Delivery.objects.filter(
        offering=session.offering, purpose=Delivery.Purpose.TIME_CHANGED
    )
    assert notices.count() >= 1
    assert {d.booking_id for d in notices} == {booking.pk}
    assert notices.values("channel").distinct().count() == notices.count()
    assert Course.objects.get(pk=course.pk).next_session_at == new_start
