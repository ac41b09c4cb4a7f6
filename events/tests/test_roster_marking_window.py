"""Event roster: check-in is marked only from check-in opening until some days
after the end, and the roster says why when it refuses."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, Offering
from bookings.services import booking_create
from events.tests.factories import make_event
from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def _event_with_family(starts_in):
    event = make_event(starts_at=timezone.now() + starts_in)
    guardian = GuardianFactory()
    booking = booking_create(
        offering_id=event.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    return event, booking


def _signed_in_coordinator(client, event):
    user = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=event.organiser_unit
    ).user
    client.force_login(user)


def _check_in(client, event, booking):
    response = client.post(
        reverse("events:manage_checkin", args=[event.pk]),
        {"booking": booking.pk, "present": "1"},
        follow=True,
    )
    booking.refresh_from_db()
    return response.content.decode()


def test_before_check_in_opens_the_roster_says_when_and_check_in_is_refused(client):
    # given an event in two days with a registered family
    event, booking = _event_with_family(datetime.timedelta(days=2))
    _signed_in_coordinator(client, event)

    # when the coordinator opens the roster
    page = client.get(reverse("events:manage_detail", args=[event.pk])).content.decode()

    # then it says when check-in opens and offers no check-in button
    opens = timezone.localtime(event.offering.starts_at - datetime.timedelta(minutes=30))
    assert "签到和出席登记尚未开放" in page and f"{opens:%Y-%m-%d %H:%M}" in page
    assert reverse("events:manage_checkin", args=[event.pk]) not in page

    # and a check-in posted anyway is refused with the same reason
    answer = _check_in(client, event, booking)
    assert "签到和出席登记尚未开放" in answer
    assert booking.attendance == Booking.Attendance.UNKNOWN


def test_while_check_in_is_open_the_roster_checks_in(client):
    # given an event starting in 20 minutes
    event, booking = _event_with_family(datetime.timedelta(minutes=20))
    _signed_in_coordinator(client, event)

    # when the coordinator opens the roster and checks the family in
    page = client.get(reverse("events:manage_detail", args=[event.pk])).content.decode()
    answer = _check_in(client, event, booking)

    # then the button was there, no refusal is shown, and the family is present
    assert reverse("events:manage_checkin", args=[event.pk]) in page
    assert "签到和出席登记" not in page
    assert "已签到" in answer
    assert booking.attendance == Booking.Attendance.PRESENT


def test_after_marking_closes_the_roster_says_so_and_check_in_is_refused(client):
    # given an event that ended eight days ago with a registered family
    event, booking = _event_with_family(datetime.timedelta(days=2))
    ended = timezone.now() - datetime.timedelta(days=8)
    Offering.objects.filter(pk=event.offering_id).update(
        starts_at=ended - datetime.timedelta(hours=2), ends_at=ended
    )
    _signed_in_coordinator(client, event)

    # when the coordinator opens the roster and posts a check-in
    page = client.get(reverse("events:manage_detail", args=[event.pk])).content.decode()
    answer = _check_in(client, event, booking)

    # then both say marking closed seven days after the end, and nothing changed
    assert "截止（结束后 7 天）" in page
    assert reverse("events:manage_checkin", args=[event.pk]) not in page
    assert "截止（结束后 7 天）" in answer
    assert booking.attendance == Booking.Attendance.UNKNOWN
