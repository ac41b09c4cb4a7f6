import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, Offering
from bookings.tests.conftest import make_family
from courses import services
from courses.errors import CourseError
from courses.models import CreditEntry, LessonProgress
from courses.tests.factories import CourseFactory, OnlineLessonFactory, make_session
from members.models import RoleAssignment
from members.tests.factories import MemberUnitFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def booked(session, *, children=1):
    family, guardians, kids = make_family(children=children)
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[guardians[0].pk],
        child_ids=[k.pk for k in kids],
    )
    return family, guardians, kids, booking


def shift(session, starts_in):
    """Move a session (booked while in the future) so that it starts ``starts_in`` from now."""
    starts_at = timezone.now() + starts_in
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=2)
    )
    session.offering.refresh_from_db()


def staff_of(unit, role=RoleAssignment.Role.INSTRUCTOR):
    return RoleAssignmentFactory(role=role, unit=unit).user


# Roster ------------------------------------------------------------------------


def test_roster_is_for_staff_of_the_sessions_unit_only(client):
    session = make_session(CourseFactory())
    unit = session.offering.unit

    client.force_login(staff_of(unit))
    assert client.get(reverse("courses:roster", args=[session.pk])).status_code == 200

    client.force_login(staff_of(MemberUnitFactory(), RoleAssignment.Role.UNIT_COORDINATOR))
    assert client.get(reverse("courses:roster", args=[session.pk])).status_code == 404

    _, guardians, _ = make_family()
    client.force_login(guardians[0].user)
    assert client.get(reverse("courses:roster", args=[session.pk])).status_code == 403


def test_bulk_marking_present_posts_credits_per_attendee_once(client):
    # given a session with two booked families (a guardian and a child each)
    course = CourseFactory(credits=1.5)
    session = make_session(course)
    _, _, _, first = booked(session)
    _, _, _, second = booked(session)
    shift(session, timedelta(minutes=-30))
    client.force_login(staff_of(session.offering.unit, RoleAssignment.Role.UNIT_COORDINATOR))

    # when the coordinator marks both present, twice
    url = reverse("courses:roster", args=[session.pk])
    for _ in range(2):
        response = client.post(url, {"booking": [first.pk, second.pk], "mark": "present"})
        assert response.status_code == 302

    # then each of the four persons has 1.5 credits, posted once
    entries = CreditEntry.objects.filter(reason=CreditEntry.Reason.ATTENDANCE)
    assert entries.count() == 4
    assert {e.amount for e in entries} == {course.credits}
    assert all(e.term_id == course.term_id for e in entries)
    page = client.get(url).content.decode()
    assert "出席 2 / 2 个家庭" in page


def test_correcting_to_absent_appends_reversing_rows_and_back_to_present_credits_again():
    session = make_session(CourseFactory(credits=1))
    family, _, _, booking = booked(session)
    shift(session, timedelta(minutes=-10))

    services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=True, marked_by=None
    )
    services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=False, marked_by=None
    )
    balance = sum(e.amount for e in CreditEntry.objects.filter(family=family))
    assert balance == 0
    assert CreditEntry.objects.filter(reason=CreditEntry.Reason.CORRECTION).count() == 2

    services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=True, marked_by=None
    )
    assert sum(e.amount for e in CreditEntry.objects.filter(family=family)) == 2
    assert CreditEntry.objects.count() == 6


def test_the_ledger_is_append_only():
    session = make_session(CourseFactory())
    _, _, _, booking = booked(session, children=0)
    shift(session, timedelta(minutes=-10))
    services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=True, marked_by=None
    )
    entry = CreditEntry.objects.get()

    with pytest.raises(PermissionError):
        entry.note = "edited"
        entry.save()
    with pytest.raises(PermissionError):
        CreditEntry.objects.update(amount=5)
    with pytest.raises(PermissionError):
        CreditEntry.objects.all().delete()

    reversal = services.credit_reverse(entry=entry, created_by=None, note="录入错误")
    assert reversal.amount == -entry.amount and reversal.reverses_id == entry.pk
    with pytest.raises(CourseError):
        services.credit_reverse(entry=entry, created_by=None)
    with pytest.raises(CourseError):
        services.credit_reverse(entry=reversal, created_by=None)


# Check-in ----------------------------------------------------------------------


def test_the_staff_page_shows_a_qr_code_of_a_signed_checkin_link(client):
    session = make_session(CourseFactory())
    client.force_login(staff_of(session.offering.unit))

    response = client.get(reverse("courses:checkin_code", args=[session.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body
    assert "/checkin/" in response.context["checkin_url"]
    fresh = client.get(reverse("courses:checkin_code", args=[session.pk]), {"fragment": "svg"})
    assert fresh["Content-Type"].startswith("image/svg+xml")
    assert fresh.content.decode().startswith("<svg")


def test_scanning_checks_the_family_in_once_and_posts_credits_once(client):
    # given a session in progress and a family that booked a guardian and a child
    session = make_session(CourseFactory(credits=1))
    family, guardians, _, booking = booked(session)
    shift(session, timedelta(minutes=-15))
    token = services.checkin_token_make(session=session)
    client.force_login(guardians[0].user)
    url = reverse("courses:checkin", args=[token])

    # when the parent opens the link and confirms
    assert "确认签到" in client.get(url).content.decode()
    response = client.post(url)

    # then the booking is present and two credits are posted
    assert response.status_code == 302 and response["Location"] == reverse("portal:my_learning")
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.PRESENT and booking.checked_in_at
    assert CreditEntry.objects.filter(family=family).count() == 2

    # and scanning again is refused, with no new credits
    with pytest.raises(CourseError) as error:
        services.session_checkin(token=token, user=guardians[0].user)
    assert error.value.code == "checkin_done"
    assert CreditEntry.objects.filter(family=family).count() == 2


def test_checkin_refuses_outside_the_window_unbooked_families_and_bad_tokens(settings):
    future = make_session(CourseFactory(), starts_in=timedelta(hours=5))
    _, guardians, _, _ = booked(future)
    with pytest.raises(CourseError) as error:
        services.session_checkin(
            token=services.checkin_token_make(session=future), user=guardians[0].user
        )
    assert error.value.code == "checkin_not_open"

    now_on = make_session(CourseFactory())
    shift(now_on, timedelta(minutes=-5))
    _, strangers, _ = make_family()
    token = services.checkin_token_make(session=now_on)
    with pytest.raises(CourseError) as error:
        services.session_checkin(token=token, user=strangers[0].user)
    assert error.value.code == "checkin_not_booked"

    with pytest.raises(CourseError) as error:
        services.session_checkin(token=token + "x", user=strangers[0].user)
    assert error.value.code == "checkin_invalid"

    settings.COURSE_CHECKIN_TOKEN_MAX_AGE = -1  # every token is already too old
    with pytest.raises(CourseError) as error:
        services.session_checkin(token=token, user=strangers[0].user)
    assert error.value.code == "checkin_expired"


def test_a_waiting_family_cannot_check_in(client):
    session = make_session(CourseFactory(), capacity=1, starts_in=timedelta(minutes=5))
    booked(session, children=0)
    _, guardians, _, waiting = booked(session, children=0)
    assert waiting.status == Booking.Status.WAITING
    with pytest.raises(CourseError) as error:
        services.session_checkin(
            token=services.checkin_token_make(session=session), user=guardians[0].user
        )
    assert error.value.code == "checkin_not_booked"


def test_a_bad_checkin_link_shows_a_message_not_an_error(client):
    _, guardians, _ = make_family()
    client.force_login(guardians[0].user)
    response = client.get("/checkin/nonsense:token/")
    assert response.status_code == 200
    assert "签到二维码无效" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_scan_posts_credits_exactly_once():
    # given a session in progress and a family of two that booked
    session = make_session(CourseFactory(credits=1))
    family, guardians, _, _ = booked(session)
    shift(session, timedelta(minutes=-5))
    token = services.checkin_token_make(session=session)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def scan():
        try:
            barrier.wait()
            services.session_checkin(token=token, user=guardians[0].user)
            outcomes.append("ok")
        except CourseError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    # when the same phone scans twice at the same moment
    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one scan checks in, the other is told it already did, credits posted once
    assert sorted(outcomes) == ["checkin_done", "ok"]
    assert CreditEntry.objects.filter(family=family).count() == 2


# Online lessons -----------------------------------------------------------------


def test_lesson_progress_posts_credit_once_at_ninety_percent(client, lesson_media):
    # Heartbeats (courses/tests/test_lesson_progress.py has the accounting in detail).
    lesson = OnlineLessonFactory(
        uploaded=True, duration_seconds=600, course=CourseFactory(credits=2)
    )
    OnlineLessonFactory(course=lesson.course)  # two lessons share the course's credits
    family, guardians, _ = make_family()
    client.force_login(guardians[0].user)
    url = reverse("courses:lesson_progress", args=[lesson.pk])

    def last_heartbeat_ago(seconds):
        LessonProgress.objects.update(last_heartbeat_at=timezone.now() - timedelta(seconds=seconds))

    # the first heartbeat starts the clock; jumping to the end counts only the real time
    first = client.post(url, {"position": "0", "watched": "0"}).json()
    assert first == {"percent": 0, "completed": False, "credited": False}
    last_heartbeat_ago(30)
    jumped = client.post(url, {"position": "590", "watched": "590"}).json()
    assert jumped == {"percent": 5, "completed": False, "credited": False}
    assert not CreditEntry.objects.exists()

    # watching (claims bounded by the clock and by three heartbeat intervals)
    for _ in range(17):
        last_heartbeat_ago(30)
        done = client.post(url, {"position": "300", "watched": "30"}).json()
    assert done == {"percent": 90, "completed": True, "credited": True}
    last_heartbeat_ago(30)
    again = client.post(url, {"position": "600", "watched": "30"}).json()
    assert again["credited"] is False and again["percent"] == 95

    entry = CreditEntry.objects.get()
    assert entry.reason == CreditEntry.Reason.ONLINE_LESSON and entry.amount == 1
    assert entry.guardian_id == guardians[0].pk
    assert LessonProgress.objects.get().completed_at is not None

    assert client.post(url, {"position": "abc", "watched": "1"}).status_code == 400
    assert client.post(url, {"position": "1", "watched": "-5"}).status_code == 400
    assert client.get(reverse("courses:lesson", args=[lesson.pk])).status_code == 200


def test_staff_see_their_units_sessions_only(client, django_assert_max_num_queries):
    mine = make_session(CourseFactory(title="本单位的课"))
    make_session(CourseFactory(title="别的单位的课"))
    client.force_login(staff_of(mine.offering.unit))

    with django_assert_max_num_queries(10):
        response = client.get(reverse("courses:staff_sessions"))

    body = response.content.decode()
    assert "本单位的课" in body and "别的单位的课" not in body
    assert "场次签到" in body  # the nav entry for staff
    assert (
        client.get(reverse("courses:staff_sessions"), {"past": "1", "page": "z"}).status_code == 200
    )
