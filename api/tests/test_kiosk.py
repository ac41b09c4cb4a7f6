"""Check-in kiosks: a device token acts for the coordinator who made it, only to
check in, and only for its own unit's course sessions and events."""

import pytest
from django.test import Client

from bookings.models import Booking
from courses.models import CreditEntry
from events.services import ticket_code
from members.models import AuditLog, RoleAssignment
from members.services import api_token_revoke
from members.tests.factories import (
    AllianceFactory,
    ApiTokenFactory,
    MembershipFactory,
    RoleAssignmentFactory,
)
from tests.races import run_together

from .test_staff_api import attendance, bearer, build_world, get, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()  # the staff tests' two schools, their sessions, events and families


@pytest.fixture
def kiosk(world):
    """An alliance coordinator who sees both schools hands a tablet to 溪口小学's door."""
    alliance = AllianceFactory()
    MembershipFactory(alliance=alliance, unit=world.school)
    MembershipFactory(alliance=alliance, unit=world.other)
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR, alliance=alliance, unit=None
    ).user
    row, raw = ApiTokenFactory.create(
        user=coordinator, unit=world.school, scopes=["checkin"], name="溪口小学门口平板"
    )
    assert row.kind == row.Kind.DEVICE
    world.alliance_coordinator = coordinator
    return row, raw


def test_a_kiosk_lists_only_its_own_units_sessions_and_events(world, kiosk):
    _row, raw = kiosk
    sessions = get(Client(), "/sessions", raw).json()["items"]
    assert {s["unit"]["id"] for s in sessions} == {world.school.pk}
    assert [s["offering_id"] for s in sessions] == [
        world.session.offering_id,
        world.later.offering_id,
    ]
    events = get(Client(), "/events", raw).json()["items"]
    assert [e["offering_id"] for e in events] == [world.event.offering_id]
    # while its coordinator, with a token of their own, sees both schools
    theirs = ApiTokenFactory.create(user=world.alliance_coordinator, scopes=["read"])[1]
    units = {s["unit"]["id"] for s in get(Client(), "/sessions", theirs).json()["items"]}
    assert units == {world.school.pk, world.other.pk}


def test_a_kiosk_checks_in_its_units_session_and_event_tickets(world, kiosk):
    _row, raw = kiosk
    client = Client()
    course = post(client, "/checkin", {"code": ticket_code(booking=world.booking)}, raw)
    assert course.status_code == 200, course.content
    assert course.json()["already_checked_in"] is False
    assert attendance(world.booking) == "present"
    assert CreditEntry.objects.filter(booking=world.booking).count() == 2
    event = post(client, "/checkin", {"code": ticket_code(booking=world.event_booking)}, raw)
    assert event.status_code == 200 and event.json()["kind"] == "event"
    assert attendance(world.event_booking) == "present"


def test_a_kiosk_cannot_check_in_for_another_unit(world, kiosk):
    _row, raw = kiosk
    for booking in (world.other_booking, world.other_event_booking):
        response = post(Client(), "/checkin", {"code": ticket_code(booking=booking)}, raw)
        assert response.status_code == 403
        body = response.json()
        assert set(body) == {"code", "message", "fields"}
        assert body["code"] == "device_other_unit"
        assert body["message"] == "这台签到设备只能为本单位的场次和活动签到。"
        assert attendance(booking) == "unknown"


def test_a_kiosk_cannot_read_rosters_or_contacts_or_mark_attendance(world, kiosk):
    _row, raw = kiosk
    client = Client()
    offering = world.session.offering_id
    for response in (
        get(client, f"/offerings/{offering}/roster", raw),
        get(client, f"/offerings/{world.event.offering_id}/roster", raw),
        post(client, f"/offerings/{offering}/roster/reveal", {"booking_id": world.booking.pk}, raw),
        post(client, f"/offerings/{offering}/attendance", {"booking_id": world.booking.pk}, raw),
        post(
            client,
            f"/offerings/{offering}/attendance/bulk",
            {"booking_ids": [world.booking.pk]},
            raw,
        ),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "device_forbidden"
    assert attendance(world.booking) == "unknown"
    assert not AuditLog.objects.filter(action="members.guardian.phone_reveal").exists()


def test_a_kiosk_cannot_read_family_data_or_book(world, kiosk):
    _row, raw = kiosk
    client = Client()
    family_reads = [
        "/api/v1/family",
        f"/api/v1/family/children/{world.child.pk}",
        "/api/v1/notifications",
        f"/api/v1/learning/bookings/{world.booking.pk}",
    ]
    for path in family_reads:
        response = client.get(path, **bearer(raw))
        assert response.status_code == 403, (path, response.content)
        assert response.json()["code"] == "device_forbidden"
    writes = [
        ("/api/v1/learning/bookings", {"offering_id": world.session.offering_id}),
        (f"/api/v1/learning/bookings/{world.booking.pk}/cancel", {}),
        (f"/api/v1/events/{world.event.pk}/registration", {}),
    ]
    for path, body in writes:
        response = client.post(path, body, content_type="application/json", **bearer(raw))
        assert response.status_code == 403, (path, response.content)
        assert response.json()["code"] == "device_forbidden"
    assert Booking.objects.get(pk=world.booking.pk).status == Booking.Status.CONFIRMED


def test_a_revoked_kiosk_token_is_refused_at_once(world, kiosk):
    row, raw = kiosk
    client = Client()
    assert get(client, "/sessions", raw).status_code == 200
    api_token_revoke(token=row, actor=world.alliance_coordinator)
    response = post(client, "/checkin", {"code": ticket_code(booking=world.booking)}, raw)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert get(client, "/sessions", raw).status_code == 401
    assert attendance(world.booking) == "unknown"


def test_a_retried_scan_with_the_same_key_gives_the_same_answer_and_one_check_in(world, kiosk):
    _row, raw = kiosk
    client = Client()
    code = ticket_code(booking=world.booking)
    key = {"HTTP_IDEMPOTENCY_KEY": "scan-7f3a"}
    first = post(client, "/checkin", {"code": code}, raw, **key)
    retry = post(client, "/checkin", {"code": code}, raw, **key)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and first.json()["already_checked_in"] is False
    assert retry["Idempotent-Replayed"] == "true"
    marks = AuditLog.objects.filter(
        action="bookings.booking.attendance", target_id=world.booking.pk
    )
    assert marks.count() == 1
    assert CreditEntry.objects.filter(booking=world.booking).count() == 2
    # a second scan without a key says so, as the door page does
    again = post(client, "/checkin", {"code": code}, raw).json()
    assert again["already_checked_in"] is True
    assert again["message"] == "王妈妈、小明（孩子） 已经签到过了。"
    assert marks.count() == 1


def test_a_refused_scan_is_replayed_as_refused(world, kiosk):
    _row, raw = kiosk
    key = {"HTTP_IDEMPOTENCY_KEY": "scan-other"}
    code = ticket_code(booking=world.other_booking)
    first = post(Client(), "/checkin", {"code": code}, raw, **key)
    retry = post(Client(), "/checkin", {"code": code}, raw, **key)
    assert first.status_code == retry.status_code == 403
    assert retry.json() == first.json()


def test_a_kiosk_scan_outside_the_window_is_refused_with_the_reason(world, kiosk):
    _row, raw = kiosk
    response = post(Client(), "/checkin", {"code": ticket_code(booking=world.later_booking)}, raw)
    assert response.status_code == 400
    assert response.json()["code"] == "attendance_not_open"
    assert attendance(world.later_booking) == "unknown"


def test_a_kiosk_whose_coordinator_lost_the_role_checks_in_nothing(world, kiosk):
    _row, raw = kiosk
    RoleAssignment.objects.filter(user=world.alliance_coordinator).delete()
    response = post(Client(), "/checkin", {"code": ticket_code(booking=world.booking)}, raw)
    assert response.status_code == 403
    assert attendance(world.booking) == "unknown"


def test_me_tells_a_kiosk_what_it_is(world, kiosk):
    _row, raw = kiosk
    me = Client().get("/api/v1/me", **bearer(raw)).json()
    assert me["token_kind"] == "device" and me["device_unit_id"] == world.school.pk
    assert me["scopes"] == ["checkin"]


@pytest.mark.django_db(transaction=True)
def test_two_kiosks_scanning_one_ticket_at_the_same_instant_check_in_once(world, kiosk):
    # given a second tablet at the same door
    _row, first_raw = kiosk
    _second, second_raw = ApiTokenFactory.create(
        user=world.alliance_coordinator, unit=world.school, scopes=["checkin"], name="第二台平板"
    )
    code = ticket_code(booking=world.booking)

    def scan(raw):
        def job():
            response = post(Client(), "/checkin", {"code": code}, raw)
            return response.status_code, response.json()

        return job

    # when both reach the booking's row lock together (each in its own connection)
    outcome = run_together(
        [scan(first_raw), scan(second_raw)], meet_before_write=["bookings_booking"]
    )

    # then the family is checked in once, and one tablet is told it already was
    assert not outcome.errors, outcome.errors
    assert outcome.met == 2
    answers = sorted(body["already_checked_in"] for _status, body in outcome.results)
    assert [status for status, _body in outcome.results] == [200, 200]
    assert answers == [False, True]
    marks = AuditLog.objects.filter(
        action="bookings.booking.attendance", target_id=world.booking.pk
    )
    assert marks.count() == 1
    assert CreditEntry.objects.filter(booking=world.booking).count() == 2
