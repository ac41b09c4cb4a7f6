"""The staff side of the API for people: their sessions and events, the roster,
attendance and ticket check-in, scoped as the staff pages are (members/access.py).

The check-in kiosks' device tokens: api/tests/test_kiosk.py (it uses ``world``)."""

import datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from courses.models import CreditEntry
from courses.tests.factories import CourseFactory, make_session
from events.services import ticket_code
from events.tests.factories import make_event
from members.models import AuditLog, RoleAssignment
from members.tests.factories import (
    ApiTokenFactory,
    ChildFactory,
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.tests.factories import ParentSchoolFactory

pytestmark = pytest.mark.django_db

Role = RoleAssignment.Role
SOON = datetime.timedelta(minutes=10)  # check-in (and attendance marking) already open


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(client: Client, path: str, body: dict, raw: str, **headers):
    return client.post(
        f"/api/v1/staff{path}", body, content_type="application/json", **bearer(raw), **headers
    )


def get(client: Client, path: str, raw: str, **params):
    return client.get(f"/api/v1/staff{path}", params, **bearer(raw))


def book(offering_id, guardian, children=()):
    return booking_services.booking_create(
        offering_id=offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
        child_ids=[c.pk for c in children],
    )


def session_at(unit, *, title="亲子沟通的艺术", starts_in=SOON, **kwargs):
    course = CourseFactory(title=title, parent_school=ParentSchoolFactory(host_unit=unit))
    return make_session(course, starts_in=starts_in, **kwargs)


def family(name="王妈妈", child=None):
    guardian = GuardianFactory(user=UserFactory(display_name=name), relation="mother")
    kids = [ChildFactory(family=guardian.family, nickname=child)] if child else []
    return guardian, kids


@pytest.fixture
def world(db):
    return build_world()


def build_world() -> SimpleNamespace:
    """溪口小学 (its coordinator and instructor) runs a session and an event that
    start in ten minutes and a session in three days; 城南中学 runs its own. 王妈妈
    and 小明 booked the session, 王妈妈 the event, 李爸爸 the other school's
    session; 赵妈妈 waits for the full session."""
    school = MemberUnitFactory(name="溪口小学")
    other = MemberUnitFactory(name="城南中学")
    coordinator = RoleAssignmentFactory(role=Role.UNIT_COORDINATOR, unit=school).user
    instructor = RoleAssignmentFactory(role=Role.INSTRUCTOR, unit=school).user
    other_coordinator = RoleAssignmentFactory(role=Role.UNIT_COORDINATOR, unit=other).user

    session = session_at(school, capacity=3, venue="溪口社区活动室")
    later = session_at(school, title="读懂青春期", starts_in=datetime.timedelta(days=3))
    other_session = session_at(other, title="城南的课")
    event = make_event(
        organiser_unit=school, title="溪口亲子运动会", starts_at=timezone.now() + SOON
    )
    other_event = make_event(
        organiser_unit=other, title="城南讲座", starts_at=timezone.now() + SOON
    )

    mother, (child,) = family("王妈妈", child="小明")
    booking = book(session.offering_id, mother, [child])
    event_booking = book(event.offering_id, mother)
    later_booking = book(later.offering_id, mother)
    father, _ = family("李爸爸")
    other_booking = book(other_session.offering_id, father)
    other_event_booking = book(other_event.offering_id, father)
    filler, _ = family("陈妈妈")
    book(session.offering_id, filler)  # 王妈妈 2 + 陈妈妈 1: the session is full
    waiter, _ = family("赵妈妈")
    waiting = book(session.offering_id, waiter)
    assert waiting.status == Booking.Status.WAITING

    return SimpleNamespace(
        school=school,
        other=other,
        coordinator=coordinator,
        instructor=instructor,
        other_coordinator=other_coordinator,
        session=session,
        later=later,
        other_session=other_session,
        event=event,
        other_event=other_event,
        mother=mother,
        child=child,
        booking=booking,
        event_booking=event_booking,
        later_booking=later_booking,
        other_booking=other_booking,
        other_event_booking=other_event_booking,
        waiting=waiting,
    )


def token(user, scopes=("read", "write", "checkin")) -> str:
    return ApiTokenFactory.create(user=user, scopes=scopes)[1]


def attendance(booking) -> str:
    booking.refresh_from_db()
    return booking.attendance


# --- lists ----------------------------------------------------------------------------


def test_staff_see_their_units_sessions_upcoming_first_and_not_another_units(world):
    raw = token(world.coordinator, ["read"])
    answer = get(Client(), "/sessions", raw).json()
    assert [s["offering_id"] for s in answer["items"]] == [
        world.session.offering_id,
        world.later.offering_id,
    ]
    first = answer["items"][0]
    assert first["title"] == "亲子沟通的艺术" and first["venue"] == "溪口社区活动室"
    assert first["unit"] == {"id": world.school.pk, "name": "溪口小学"}
    assert first["places_taken"] == 3 and first["waiting_families"] == 1
    # the instructor sees them too, the other school's coordinator only its own
    assert len(get(Client(), "/sessions", token(world.instructor, ["read"])).json()["items"]) == 2
    theirs = get(Client(), "/sessions", token(world.other_coordinator, ["read"])).json()
    assert [s["offering_id"] for s in theirs["items"]] == [world.other_session.offering_id]


def test_the_session_list_pages_by_cursor_and_a_new_session_does_not_shift_it(world):
    raw = token(world.coordinator, ["read"])
    client = Client()
    first = get(client, "/sessions", raw, limit=1).json()
    assert [s["offering_id"] for s in first["items"]] == [world.session.offering_id]
    # a session added before the cursor (it starts sooner) is not shown on later pages
    session_at(world.school, title="临时加开", starts_in=datetime.timedelta(minutes=5))
    second = get(client, "/sessions", raw, limit=1, cursor=first["next_cursor"]).json()
    assert [s["offering_id"] for s in second["items"]] == [world.later.offering_id]
    assert second["next_cursor"] is None
    # the past list is its own: a cursor of one is refused by the other
    refused = get(client, "/sessions", raw, past="true", cursor=first["next_cursor"])
    body = refused.json()
    assert refused.status_code == 400 and body["code"] == "bad_cursor"
    assert body["fields"] == {"cursor": body["message"]} and "翻页" in body["message"]


def test_the_event_list_is_the_units_events_upcoming_and_past_apart(world):
    raw = token(world.coordinator, ["read"])
    answer = get(Client(), "/events", raw).json()
    assert [(e["offering_id"], e["title"]) for e in answer["items"]] == [
        (world.event.offering_id, "溪口亲子运动会")
    ]
    assert answer["items"][0]["unit"]["name"] == "溪口小学"
    assert get(Client(), "/events", raw, past="true").json()["items"] == []


def test_a_parent_is_not_staff(world):
    response = get(Client(), "/sessions", token(world.mother.user, ["read"]))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert get(Client(), "/events", token(world.mother.user, ["read"])).status_code == 403


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = fn()
    assert response.status_code == 200, response.content
    return len(queries)


def test_the_session_list_costs_the_same_queries_for_two_rows_or_twelve(
    world, django_assert_max_num_queries
):
    raw = token(world.coordinator, ["read"])
    client = Client()
    get(client, "/sessions", raw)  # the token's first use is recorded once
    few = _queries(lambda: get(client, "/sessions", raw))
    for n in range(10):
        session_at(world.school, title=f"加开的课{n}", starts_in=datetime.timedelta(days=n + 1))
        make_event(organiser_unit=world.school, title=f"活动{n}")
    many = _queries(lambda: get(client, "/sessions", raw))
    assert many == few
    with django_assert_max_num_queries(few):
        answer = get(client, "/sessions", raw).json()
    assert len(answer["items"]) == 12
    assert _queries(lambda: get(client, "/events", raw)) <= few


# --- the roster -----------------------------------------------------------------------


def test_the_roster_shows_who_comes_masked_phones_and_the_waiting_list(world):
    raw = token(world.coordinator, ["read"])
    answer = get(Client(), f"/offerings/{world.session.offering_id}/roster", raw).json()
    assert answer["offering"]["kind"] == "course_session"
    assert answer["offering"]["session_id"] == world.session.pk
    assert answer["marking"]["is_open"] is True
    rows = {row["booking_id"]: row for row in answer["confirmed"]}
    mine = rows[world.booking.pk]
    assert mine["people"] == ["王妈妈", "小明（孩子）"]
    assert mine["party_size"] == 2 and mine["children_count"] == 1
    assert mine["attendance"] == "unknown"
    phone = world.mother.phone
    (contact,) = mine["contacts"]
    assert contact["masked"] != phone and contact["masked"].endswith(phone[-4:])
    assert contact["phone"] == "" and mine["contacts_hidden"] is True
    assert phone not in str(answer)
    assert [(w["booking_id"], w["position"]) for w in answer["waiting"]] == [(world.waiting.pk, 1)]
    assert answer["waiting"][0]["booked_by"] == "赵妈妈"


def test_the_event_roster_is_read_by_its_offering_id_too(world):
    raw = token(world.coordinator, ["read"])
    answer = get(Client(), f"/offerings/{world.event.offering_id}/roster", raw).json()
    assert answer["offering"]["kind"] == "event"
    assert answer["offering"]["event_id"] == world.event.pk
    assert [row["booking_id"] for row in answer["confirmed"]] == [world.event_booking.pk]


def test_another_units_offering_is_not_found_like_a_missing_one(world):
    raw = token(world.coordinator)
    client = Client()
    for offering_id in (world.other_session.offering_id, world.other_event.offering_id, 10**9):
        for response in (
            get(client, f"/offerings/{offering_id}/roster", raw),
            post(client, f"/offerings/{offering_id}/roster/reveal", {"booking_id": 1}, raw),
            post(client, f"/offerings/{offering_id}/attendance", {"booking_id": 1}, raw),
            post(client, f"/offerings/{offering_id}/attendance/bulk", {"booking_ids": [1]}, raw),
        ):
            assert response.status_code == 404, response.content
            assert response.json()["code"] == "not_found"
    assert attendance(world.other_booking) == "unknown"


def test_the_roster_costs_the_same_queries_for_few_or_many_families(world):
    raw = token(world.coordinator, ["read"])
    client = Client()
    roomy = session_at(world.school, title="大课堂", capacity=50)
    first, kids = family("第一家", child="小一")
    book(roomy.offering_id, first, kids)
    path = f"/offerings/{roomy.offering_id}/roster"
    get(client, path, raw)
    few = _queries(lambda: get(client, path, raw))
    for n in range(8):
        guardian, kids = family(f"家长{n}", child=f"孩子{n}")
        GuardianFactory(family=guardian.family, relation="father")
        book(roomy.offering_id, guardian, kids)
    assert _queries(lambda: get(client, path, raw)) == few
    assert len(get(client, path, raw).json()["confirmed"]) == 9


def test_revealing_a_familys_number_is_audit_logged_and_the_page_keeps_it(world):
    client = Client()
    client.force_login(world.coordinator)
    path = f"/api/v1/staff/offerings/{world.session.offering_id}/roster"
    answer = client.post(
        f"{path}/reveal", {"booking_id": world.booking.pk}, content_type="application/json"
    ).json()
    assert answer["contacts"][0]["phone"] == world.mother.phone
    assert AuditLog.objects.filter(action="members.guardian.phone_reveal").count() == 1
    # signed in on the site, the roster (API and page) then shows it in full
    row = next(
        r for r in client.get(path).json()["confirmed"] if r["booking_id"] == world.booking.pk
    )
    assert row["contacts"][0]["phone"] == world.mother.phone
    # a waiting family's (or another session's) booking reveals nothing
    for booking_id in (world.waiting.pk, world.other_booking.pk):
        refused = client.post(
            f"{path}/reveal", {"booking_id": booking_id}, content_type="application/json"
        )
        assert refused.status_code == 404
    assert AuditLog.objects.filter(action="members.guardian.phone_reveal").count() == 1


# --- attendance -----------------------------------------------------------------------


def test_marking_attendance_posts_the_credits_once_and_absent_reverses_them(world):
    raw = token(world.instructor, ["read", "write"])  # instructors mark on the roster page too
    client = Client()
    path = f"/offerings/{world.session.offering_id}/attendance"
    answer = post(client, path, {"booking_id": world.booking.pk, "present": True}, raw).json()
    assert answer["attendance"] == "present" and answer["checked_in_at"]
    credits = CreditEntry.objects.filter(booking=world.booking)
    posted = credits.count()
    assert posted == 2  # 王妈妈 and 小明
    post(client, path, {"booking_id": world.booking.pk, "present": True}, raw)
    assert credits.count() == posted
    absent = post(client, path, {"booking_id": world.booking.pk, "present": False}, raw).json()
    assert absent["attendance"] == "absent"
    assert sum(e.amount for e in credits.all()) == 0


def test_attendance_outside_the_marking_window_is_refused_with_the_pages_message(world):
    raw = token(world.coordinator)
    response = post(
        Client(),
        f"/offerings/{world.later.offering_id}/attendance",
        {"booking_id": world.later_booking.pk},
        raw,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "attendance_not_open" and "签到" in body["message"]
    assert attendance(world.later_booking) == "unknown"
    bulk = post(
        Client(),
        f"/offerings/{world.later.offering_id}/attendance/bulk",
        {"booking_ids": [world.later_booking.pk]},
        raw,
    )
    assert bulk.status_code == 400 and bulk.json()["code"] == "attendance_not_open"
    # and the roster says why, as the page does
    roster = get(Client(), f"/offerings/{world.later.offering_id}/roster", raw).json()
    assert roster["marking"]["is_open"] is False and roster["marking"]["message"]


def test_a_booking_of_another_offering_is_refused_naming_the_field(world):
    raw = token(world.coordinator)
    client = Client()
    for offering, booking in (
        (world.session, world.other_booking),
        (world.event, world.other_event_booking),
        (world.session, world.event_booking),
    ):
        response = post(
            client, f"/offerings/{offering.offering_id}/attendance", {"booking_id": booking.pk}, raw
        )
        assert response.status_code == 404, response.content
        assert "booking_id" in response.json()["fields"]
        assert attendance(booking) == "unknown"


def test_event_attendance_goes_through_the_event_check_in(world):
    raw = token(world.coordinator)
    response = post(
        Client(),
        f"/offerings/{world.event.offering_id}/attendance",
        {"booking_id": world.event_booking.pk},
        raw,
    )
    assert response.status_code == 200 and response.json()["attendance"] == "present"
    # an instructor may look at the event but not change it, as on the event page
    refused = post(
        Client(),
        f"/offerings/{world.event.offering_id}/attendance",
        {"booking_id": world.event_booking.pk, "present": False},
        token(world.instructor),
    )
    assert refused.status_code == 400 and refused.json()["code"] == "cannot_change_unit"
    assert attendance(world.event_booking) == "present"


def test_bulk_marking_marks_each_family_and_collects_the_refusals(world):
    raw = token(world.coordinator)
    response = post(
        Client(),
        f"/offerings/{world.session.offering_id}/attendance/bulk",
        {"booking_ids": [world.booking.pk, world.waiting.pk], "present": True},
        raw,
    )
    assert response.status_code == 200
    assert response.json() == {"marked": 1, "errors": ["只有已确认的报名才能签到。"]}
    assert attendance(world.booking) == "present"
    events_bulk = post(
        Client(),
        f"/offerings/{world.event.offering_id}/attendance/bulk",
        {"booking_ids": [world.event_booking.pk]},
        raw,
    )
    assert events_bulk.status_code == 400
    assert "booking_ids" in events_bulk.json()["fields"]


def test_a_read_only_token_may_look_but_not_mark(world):
    raw = token(world.coordinator, ["read"])
    response = post(
        Client(),
        f"/offerings/{world.session.offering_id}/attendance",
        {"booking_id": world.booking.pk},
        raw,
    )
    assert response.status_code == 403 and response.json()["code"] == "scope_missing"
    scan = post(Client(), "/checkin", {"code": ticket_code(booking=world.booking)}, raw)
    assert scan.status_code == 403 and scan.json()["code"] == "scope_missing"
    assert attendance(world.booking) == "unknown"


# --- ticket check-in by a person ------------------------------------------------------


def test_staff_scan_a_course_ticket_and_a_second_scan_says_already_checked_in(world):
    raw = token(world.coordinator, ["checkin"])
    client = Client()
    code = ticket_code(booking=world.booking)
    spaced = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    first = post(client, "/checkin", {"code": spaced}, raw)
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["booking_id"] == world.booking.pk and body["kind"] == "course_session"
    assert body["people"] == ["王妈妈", "小明（孩子）"] and body["already_checked_in"] is False
    assert body["message"] == "已签到：王妈妈、小明（孩子）（2 人）。"
    assert attendance(world.booking) == "present"
    assert CreditEntry.objects.filter(booking=world.booking).count() == 2
    again = post(client, "/checkin", {"code": code}, raw).json()
    assert again["already_checked_in"] is True and "已经签到过了" in again["message"]
    assert CreditEntry.objects.filter(booking=world.booking).count() == 2


def test_an_event_ticket_checks_in_at_the_event(world):
    raw = token(world.coordinator, ["checkin"])
    body = post(Client(), "/checkin", {"code": ticket_code(booking=world.event_booking)}, raw)
    assert body.status_code == 200 and body.json()["kind"] == "event"
    assert attendance(world.event_booking) == "present"


def test_a_ticket_of_an_offering_the_person_does_not_run_is_refused(world):
    raw = token(world.coordinator, ["checkin"])
    for booking in (world.other_booking, world.other_event_booking):
        response = post(Client(), "/checkin", {"code": ticket_code(booking=booking)}, raw)
        assert response.status_code == 403
        assert response.json()["code"] == "checkin_not_yours"
        assert attendance(booking) == "unknown"


def test_a_waiting_familys_or_a_made_up_ticket_is_refused_naming_the_code(world):
    raw = token(world.coordinator, ["checkin"])
    client = Client()
    code = ticket_code(booking=world.booking)
    for typed, expected in (
        (ticket_code(booking=world.waiting), "ticket_waiting"),
        (code[:-1] + str((int(code[-1]) + 1) % 10), "ticket_bad_code"),
        ("12", "ticket_bad_code"),
    ):
        response = post(client, "/checkin", {"code": typed}, raw)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == expected and body["fields"]["code"] == body["message"]
    assert attendance(world.booking) == "unknown"


def test_a_ticket_outside_the_check_in_window_is_refused(world):
    raw = token(world.coordinator, ["checkin"])
    response = post(Client(), "/checkin", {"code": ticket_code(booking=world.later_booking)}, raw)
    assert response.status_code == 400 and response.json()["code"] == "attendance_not_open"
    assert attendance(world.later_booking) == "unknown"


def test_a_cancelled_bookings_ticket_stops_working(world):
    raw = token(world.coordinator, ["checkin"])
    code = ticket_code(booking=world.booking)
    booking_services.booking_cancel(
        booking_id=world.booking.pk, family=None, cancelled_by=None, force=True
    )
    response = post(Client(), "/checkin", {"code": code}, raw)
    assert response.status_code == 400 and response.json()["code"] == "ticket_cancelled"
    # the waiting family was promoted into the place, and its ticket now works
    promoted = post(Client(), "/checkin", {"code": ticket_code(booking=world.waiting)}, raw)
    assert promoted.status_code == 200


def test_session_sign_in_works_for_the_staff_side_as_for_the_pages(world):
    client = Client()
    client.force_login(world.coordinator)
    assert client.get("/api/v1/staff/sessions").status_code == 200
    response = client.post(
        "/api/v1/staff/checkin",
        {"code": ticket_code(booking=world.booking)},
        content_type="application/json",
    )
    assert response.status_code == 200 and attendance(world.booking) == "present"


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/checkin", {}, "code"),
        ("post", "/checkin", {"code": ""}, "code"),
        ("post", "/checkin", {"code": "1" * 301}, "code"),
        ("post", "/checkin", {"code": ["1"]}, "code"),
        ("post", "/offerings/{s}/attendance", {"booking_id": "x"}, "booking_id"),
        ("post", "/offerings/{s}/attendance", {"booking_id": -1}, "booking_id"),
        ("post", "/offerings/{s}/attendance", {"booking_id": 1, "present": "maybe"}, "present"),
        ("post", "/offerings/{s}/attendance/bulk", {"booking_ids": []}, "booking_ids"),
        ("post", "/offerings/{s}/attendance/bulk", {"booking_ids": "1,2"}, "booking_ids"),
        ("post", "/offerings/{s}/roster/reveal", {}, "booking_id"),
        ("get", "/sessions", {"limit": 0}, "limit"),
        ("get", "/sessions", {"limit": "many"}, "limit"),
        ("get", "/events", {"cursor": "forged"}, "cursor"),
        ("get", "/offerings/abc/roster", {}, "offering_id"),
        ("get", "/offerings/99999999999999999999/roster", {}, "offering_id"),
        ("post", "/offerings/0/attendance", {"booking_id": 1}, "offering_id"),
        ("post", "/offerings/{s}/attendance", {"booking_id": 2**63}, "booking_id"),
        ("post", "/offerings/{s}/attendance/bulk", {"booking_ids": [2**40]}, "booking_ids.0"),
        ("post", "/checkin", {"code": "9" * 20}, "code"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_never_a_500(world, method, path, body, field):
    raw = token(world.coordinator)
    path = path.replace("{s}", str(world.session.offering_id))
    if method == "post":
        response = post(Client(), path, body, raw)
    else:
        response = get(Client(), path, raw, **body)
    assert 400 <= response.status_code < 500, response.content
    answer = response.json()
    assert set(answer) == {"code", "message", "fields"}
    assert field in answer["fields"], answer


def test_a_body_that_is_not_json_is_a_4xx(world):
    response = Client().post(
        "/api/v1/staff/checkin",
        "code=123",
        content_type="application/json",
        **bearer(token(world.coordinator)),
    )
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"code", "message", "fields"}
