"""Course sessions: attendance and QR check-in only from check-in opening until
some days after the end; the roster says why when it refuses, and no credit is
posted when marking is refused."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, Offering
from bookings.tests.conftest import make_family
from courses import services
from courses.errors import CourseError
from courses.models import CreditEntry
from courses.tests.factories import CourseFactory, make_session
from members.models import RoleAssignment
from members.tests.factories import RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def _booked(session, count=2):
    out = []
    for _ in range(count):
        family, guardians, kids = make_family(children=1)
        booking = booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
            child_ids=[kids[0].pk],
        )
        out.append((family, guardians, booking))
    return out


def _ended(session, days_ago):
    ended = timezone.now() - timedelta(days=days_ago)
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=ended - timedelta(hours=2), ends_at=ended
    )
    session.offering.refresh_from_db()


def _coordinator(session):
    return RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=session.offering.unit
    ).user


def test_the_roster_before_check_in_opens_says_when_and_marks_nobody(client):
    # given a session in three days with two booked families
    session = make_session(CourseFactory(credits=1), starts_in=timedelta(days=3))
    rows = _booked(session)
    client.force_login(_coordinator(session))
    url = reverse("courses:roster", args=[session.pk])

    # when the coordinator opens the roster
    page = client.get(url).content.decode()

    # then it says marking opens 30 minutes before the start, and offers no marking buttons
    assert "签到和出席登记尚未开放" in page and "开始前 30 分钟" in page
    assert 'value="present"' not in page

    # when the coordinator posts a bulk marking anyway
    response = client.post(url, {"booking": [b.pk for _, _, b in rows], "mark": "present"})
    shown = [str(m) for m in response.wsgi_request._messages]

    # then it is refused once, with the reason, and no credit is posted
    assert response.status_code == 302
    assert len(shown) == 1 and "尚未开放" in shown[0]
    assert not Booking.objects.filter(attendance=Booking.Attendance.PRESENT).exists()
    assert not CreditEntry.objects.exists()


def test_the_roster_while_open_marks_and_credits(client):
    # given a session that ended six days ago (marking closes seven days after)
    session = make_session(CourseFactory(credits=1))
    rows = _booked(session)
    _ended(session, days_ago=6)
    client.force_login(_coordinator(session))
    url = reverse("courses:roster", args=[session.pk])

    # when the coordinator marks both families present
    assert 'value="present"' in client.get(url).content.decode()
    client.post(url, {"booking": [b.pk for _, _, b in rows], "mark": "present"})

    # then both are present and each attendee is credited
    assert Booking.objects.filter(attendance=Booking.Attendance.PRESENT).count() == 2
    assert CreditEntry.objects.count() == 4


def test_the_roster_after_marking_closes_says_so_and_changes_nothing(client):
    # given a session marked present, which ended eight days ago
    session = make_session(CourseFactory(credits=1), starts_in=timedelta(minutes=10))
    (family, _, booking), (_, _, unmarked) = _booked(session)
    services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=True, marked_by=None
    )
    _ended(session, days_ago=8)
    client.force_login(_coordinator(session))
    url = reverse("courses:roster", args=[session.pk])

    # when the coordinator opens the roster and tries to correct and to add
    page = client.get(url).content.decode()
    client.post(url, {"booking": [booking.pk], "mark": "absent"})
    client.post(url, {"booking": [unmarked.pk], "mark": "present"})

    # then the page says when marking closed, and nothing was reversed or credited
    assert "已于" in page and "截止（结束后 7 天）" in page
    assert 'value="absent"' not in page
    booking.refresh_from_db()
    unmarked.refresh_from_db()
    assert booking.attendance == Booking.Attendance.PRESENT
    assert unmarked.attendance == Booking.Attendance.UNKNOWN
    assert CreditEntry.objects.count() == 2  # the two of the first family, not reversed
    assert not CreditEntry.objects.filter(reason=CreditEntry.Reason.CORRECTION).exists()


def test_qr_check_in_before_opening_says_when_it_opens(settings):
    # given check-in opening 45 minutes before a session that starts in an hour
    settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE = 45
    session = make_session(CourseFactory(), starts_in=timedelta(hours=1))
    [(family, guardians, _)] = _booked(session, 1)
    token = services.checkin_token_make(session=session)

    # when the parent scans
    with pytest.raises(CourseError) as error:
        services.session_checkin(token=token, user=guardians[0].user)

    # then they are told when it opens, and no credit is posted
    opens = timezone.localtime(session.offering.starts_at - timedelta(minutes=45))
    assert error.value.code == "checkin_not_open"
    assert f"{opens:%Y-%m-%d %H:%M}" in str(error.value.message)
    assert "开始前 45 分钟" in str(error.value.message)
    assert not CreditEntry.objects.exists()


def test_qr_check_in_while_open_credits_once(client):
    # given a session starting in 20 minutes
    session = make_session(CourseFactory(credits=1), starts_in=timedelta(minutes=20))
    [(family, guardians, booking)] = _booked(session, 1)
    client.force_login(guardians[0].user)

    # when the parent scans and confirms
    client.post(reverse("courses:checkin", args=[services.checkin_token_make(session=session)]))

    # then the family is present and credited
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.PRESENT
    assert CreditEntry.objects.filter(family=family).count() == 2


@pytest.mark.parametrize("days_ago", [0.01, 8])
def test_qr_check_in_after_the_end_is_refused_with_the_time_it_closed(client, days_ago):
    # given a session that has ended (just now, or eight days ago)
    session = make_session(CourseFactory(credits=1))
    [(family, guardians, booking)] = _booked(session, 1)
    _ended(session, days_ago=days_ago)
    client.force_login(guardians[0].user)
    url = reverse("courses:checkin", args=[services.checkin_token_make(session=session)])

    # when the parent scans and confirms
    response = client.post(url, follow=True)

    # then they are told check-in closed at the end, and nothing is marked or credited
    ended = timezone.localtime(session.offering.ends_at)
    assert "扫码签到已于" in response.content.decode()
    assert f"{ended:%Y-%m-%d %H:%M}" in response.content.decode()
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN
    assert not CreditEntry.objects.exists()
