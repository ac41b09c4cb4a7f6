"""On-site check-in: the event's QR code expires and rotates like the course QR,
and each registered family has its own ticket that staff scan or type."""

from __future__ import annotations

import datetime
import re
import time
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from events import services
from events.errors import EventError
from events.tests.factories import make_event
from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, MemberUnitFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def _soon_event(**overrides):
    # Starts in 10 minutes: registration is still open and check-in already is.
    return make_event(starts_at=timezone.now() + datetime.timedelta(minutes=10), **overrides)


def _register(event, guardian=None):
    guardian = guardian or GuardianFactory()
    booking = booking_create(
        offering_id=event.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    return guardian, booking


def _coordinator(event):
    return RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=event.organiser_unit
    ).user


def _code_from_url(url: str) -> str:
    return re.search(r"/checkin/([^/]+)/$", url).group(1)


# --- the event's QR code ----------------------------------------------------------------


def test_an_event_code_works_for_the_configured_time_then_says_it_expired(settings):
    # given an event code made 11 minutes ago, with codes living 10 minutes
    settings.COURSE_CHECKIN_TOKEN_MAX_AGE = 600
    event = _soon_event()
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 660):
        old = services.event_checkin_code(event=event)
    fresh = services.event_checkin_code(event=event)

    # then the fresh code is accepted, the old one is refused as expired
    services.event_checkin_code_check(event=event, code=fresh)
    with pytest.raises(EventError) as error:
        services.event_checkin_code_check(event=event, code=old)
    assert error.value.code == "checkin_expired"
    assert "已过期" in str(error.value.message)


def test_an_event_code_is_refused_at_another_event_and_when_forged():
    event, other = _soon_event(), _soon_event()
    code = services.event_checkin_code(event=other)
    for bad in (code, "forged", code[:-1] + ("A" if code[-1] != "A" else "B")):
        with pytest.raises(EventError) as error:
            services.event_checkin_code_check(event=event, code=bad)
        assert error.value.code == "checkin_bad_code"


def test_the_coordinators_qr_page_serves_a_scalable_code_and_fresh_ones(client):
    # given a coordinator on the QR page of their unit's event
    event = _soon_event()
    client.force_login(_coordinator(event))
    url = reverse("events:manage_qr", args=[event.pk])

    # when the page is read, and later its refresh fragment
    page = client.get(url)
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 5):
        fragment = client.get(url, {"fragment": "svg"})

    # then the SVG scales (a viewBox, no fixed width or height) and has a white quiet zone
    assert page.status_code == 200
    # (the code's own <svg>, inside the QR frame; the tab bar draws icons too)
    svg = re.search(r'id="qr"[^>]*><svg[^>]*>', page.content.decode()).group(0)
    assert "viewBox=" in svg and "width=" not in svg and "height=" not in svg
    # the white square under the modules covers the whole viewBox: the quiet zone is drawn
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1)) // 10
    assert f'<path fill="#fff" d="M0 0h{size}v{size}h-{size}z"/>' in page.content.decode()
    # and the page refreshes itself before the code expires, with the shared script
    assert 'data-refresh-seconds="300"' in page.content.decode()
    assert "js/qr-refresh.js" in page.content.decode()
    # and the fragment is a new, valid code for the same event
    assert fragment["Content-Type"].startswith("image/svg+xml")
    assert fragment["Cache-Control"] == "no-store"
    assert fragment.content.decode().startswith("<svg")
    shown = page.context["url"]
    services.event_checkin_code_check(event=event, code=_code_from_url(shown))
    assert fragment.content != page.context["svg"].encode()


def test_a_guardian_with_an_expired_code_is_told_so_before_tapping(client, settings):
    settings.COURSE_CHECKIN_TOKEN_MAX_AGE = 600
    event = _soon_event()
    guardian, booking = _register(event)
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 900):
        old = services.event_checkin_code(event=event)
    client.force_login(guardian.user)

    page = client.get(reverse("events:self_checkin", args=[event.pk, old])).content.decode()
    assert "已过期" in page
    assert "为我的家庭签到" not in page

    client.post(reverse("events:self_checkin", args=[event.pk, old]))
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN


def test_self_check_in_opens_with_check_in_and_says_when(client, settings):
    # given an event starting in two hours (check-in opens 30 minutes before)
    settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE = 30
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=2))
    guardian, booking = _register(event)
    client.force_login(guardian.user)
    url = reverse("events:self_checkin", args=[event.pk, services.event_checkin_code(event=event)])

    page = client.post(url, follow=True).content.decode()

    assert "活动开始前 30 分钟至结束" in page
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN


# --- tickets ------------------------------------------------------------------------------


def test_a_ticket_is_digits_bound_to_its_booking():
    event = _soon_event()
    _guardian, booking = _register(event)
    code = services.event_ticket_code(booking=booking)

    assert code.isdigit() and len(code) <= 8 + 12
    assert code.startswith(str(booking.pk))
    assert services.event_ticket_code(booking=booking) == code  # nothing stored, same code
    assert services.event_ticket_booking(event=event, code=code) == booking
    # spaces, dashes or the whole link from the QR are accepted as typed
    spaced = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    assert services.event_ticket_booking(event=event, code=spaced) == booking
    link = f"https://portal.example.cn/events/manage/{event.pk}/ticket/?code={code}"
    assert services.event_ticket_booking(event=event, code=link) == booking


@pytest.mark.parametrize(
    "mangle", [lambda c: c[:-1] + str((int(c[-1]) + 1) % 10), lambda c: c[:-8], lambda c: "", str]
)
def test_a_mistyped_or_guessed_ticket_is_refused(mangle):
    event = _soon_event()
    _guardian, booking = _register(event)
    code = services.event_ticket_code(booking=booking)
    typed = mangle(code) if mangle is not str else "1" + code  # another booking id

    with pytest.raises(EventError) as error:
        services.event_ticket_booking(event=event, code=typed)
    assert error.value.code == "ticket_bad_code"


def test_a_ticket_for_another_event_is_refused_with_its_title():
    event = _soon_event()
    other = _soon_event(title="亲子运动会")
    _guardian, booking = _register(other)

    with pytest.raises(EventError) as error:
        services.event_ticket_booking(event=event, code=services.event_ticket_code(booking=booking))
    assert error.value.code == "ticket_other_event"
    assert "另一场活动" in str(error.value.message) and "亲子运动会" in str(error.value.message)


def test_a_ticket_of_a_cancelled_or_waiting_booking_is_refused():
    event = make_event(starts_at=timezone.now() + datetime.timedelta(minutes=10), capacity=1)
    _guardian, booking = _register(event)
    _waiter, waiting = _register(event)
    assert waiting.status == Booking.Status.WAITING
    code = services.event_ticket_code(booking=booking)
    waiting_code = services.event_ticket_code(booking=waiting)
    booking_cancel(booking_id=booking.pk, family=None, cancelled_by=None, force=True)
    # the waiting family was promoted by the cancellation: its ticket now works
    assert services.event_ticket_booking(event=event, code=waiting_code).pk == waiting.pk

    with pytest.raises(EventError) as error:
        services.event_ticket_booking(event=event, code=code)
    assert error.value.code == "ticket_cancelled"
    assert "已取消" in str(error.value.message)

    # and a family still waiting is told apart
    _late, still_waiting = _register(event)
    with pytest.raises(EventError) as error:
        services.event_ticket_booking(
            event=event, code=services.event_ticket_code(booking=still_waiting)
        )
    assert error.value.code == "ticket_waiting"


def test_staff_type_a_ticket_on_the_roster_and_the_family_is_checked_in(client):
    # given a registered family and the event's coordinator on the roster
    event = _soon_event()
    _guardian, booking = _register(event)
    client.force_login(_coordinator(event))
    roster = client.get(reverse("events:manage_detail", args=[event.pk])).content.decode()
    assert 'name="code"' in roster and reverse("events:manage_ticket", args=[event.pk]) in roster

    # when the ticket is typed with spaces, as read out
    code = services.event_ticket_code(booking=booking)
    typed = f"{code[:-8]} {code[-8:-4]} {code[-4:]}"
    response = client.post(
        reverse("events:manage_ticket", args=[event.pk]), {"code": typed}, follow=True
    )

    # then the family is present and the roster says who
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.PRESENT
    assert "已签到：" in response.content.decode()

    # and a second scan says it was already done, without changing anything
    again = client.post(
        reverse("events:manage_ticket", args=[event.pk]), {"code": code}, follow=True
    )
    assert "已经签到过了" in again.content.decode()


def test_scanning_a_ticket_qr_opens_a_confirmation_then_checks_in(client):
    event = _soon_event()
    guardian, booking = _register(event)
    client.force_login(_coordinator(event))
    url = reverse("events:manage_ticket", args=[event.pk])
    code = services.event_ticket_code(booking=booking)

    page = client.get(url, {"code": code})
    assert page.status_code == 200
    assert str(guardian.user) in page.content.decode()
    assert "确认签到" in page.content.decode()
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN  # a GET changes nothing

    client.post(url, {"code": code})
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.PRESENT


def test_a_refused_ticket_shows_the_reason_in_chinese(client):
    event = _soon_event()
    other = _soon_event(title="亲子运动会")
    _guardian, booking = _register(other)
    client.force_login(_coordinator(event))
    code = services.event_ticket_code(booking=booking)

    page = client.get(reverse("events:manage_ticket", args=[event.pk]), {"code": code})
    assert "这张票属于另一场活动（亲子运动会）" in page.content.decode()
    posted = client.post(
        reverse("events:manage_ticket", args=[event.pk]), {"code": code}, follow=True
    )
    assert "这张票属于另一场活动" in posted.content.decode()
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN


def test_a_ticket_before_check_in_opens_is_refused_with_the_opening_time(client):
    event = make_event(starts_at=timezone.now() + datetime.timedelta(days=2))
    _guardian, booking = _register(event)
    client.force_login(_coordinator(event))
    code = services.event_ticket_code(booking=booking)

    response = client.post(
        reverse("events:manage_ticket", args=[event.pk]), {"code": code}, follow=True
    )
    assert "尚未开放" in response.content.decode()
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN


def test_other_units_and_parents_cannot_use_the_ticket_page(client):
    event = _soon_event()
    guardian, booking = _register(event)
    code = services.event_ticket_code(booking=booking)
    url = reverse("events:manage_ticket", args=[event.pk])

    # a coordinator of another unit: 404, as for a missing event
    other = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=MemberUnitFactory()
    ).user
    client.force_login(other)
    assert client.get(url, {"code": code}).status_code == 404
    assert client.post(url, {"code": code}).status_code == 404
    # the family itself: staff pages are refused
    client.force_login(guardian.user)
    assert client.post(url, {"code": code}).status_code == 403
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.UNKNOWN


def test_the_family_sees_its_ticket_on_the_event_page_only_while_confirmed(client):
    event = make_event(starts_at=timezone.now() + datetime.timedelta(days=2), capacity=1)
    guardian, booking = _register(event)
    waiter, _waiting = _register(event)
    code = services.event_ticket_code(booking=booking)

    client.force_login(guardian.user)
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert f'data-ticket="{code}"' in page
    assert 'id="ticket-qr"' in page and "viewBox=" in page

    client.force_login(waiter.user)
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert "data-ticket=" not in page

    booking_cancel(booking_id=booking.pk, family=None, cancelled_by=None, force=True)
    client.force_login(guardian.user)
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert code not in page
