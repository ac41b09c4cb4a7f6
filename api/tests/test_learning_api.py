"""Booking and 我的学习 through the API: the course page's booking rules for the
caller's own family, the waiting list with its positions, cancelling that promotes,
scopes, another family's ids refused, bad input a 4xx naming the field."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.services import event_register
from events.tests.factories import make_event
from members.tests.factories import ApiTokenFactory, UserFactory
from portal.tests.conftest import book, fill_up, week  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

BOOK = "/api/v1/learning/bookings"
MINE = "/api/v1/learning/"
# 我的学习 at most: the token (its lookup and last-used mark), the family, the three
# lists with their people, the history's count, the balances with their terms and
# members, the recent credits: the same whatever the number of items.
LEARNING_MAX_QUERIES = 12


def _client(user, scopes=("read", "write")):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def parent():
    family, guardians, kids = make_family(children=1, guardians=2)
    return family, guardians, kids, _client(guardians[0].user)


def test_a_parent_books_chosen_family_members_and_is_confirmed(parent):
    family, guardians, kids, client = parent
    session = make_session(CourseFactory(), capacity=5)

    answer = _post(
        client,
        BOOK,
        {
            "offering_id": session.offering_id,
            "guardian_ids": [guardians[1].pk],
            "child_ids": [kids[0].pk],
        },
    )

    assert answer.status_code == 201, answer.content
    body = answer.json()
    booking = Booking.objects.get(family=family)
    assert body["id"] == booking.pk and body["status"] == "confirmed"
    assert body["party_size"] == 2 and body["children_count"] == 1
    assert body["waiting_position"] is None and len(body["people"]) == 2
    assert client.get(f"{BOOK}/{booking.pk}").json()["status"] == "confirmed"


def test_a_full_session_puts_the_family_on_the_waiting_list_with_its_position(parent):
    family, guardians, _kids, client = parent
    session = make_session(CourseFactory(), capacity=1)
    fill_up(session.offering_id, families=2)  # one confirmed, one waiting ahead

    detail = client.get(f"/api/v1/catalogue/sessions/{session.pk}").json()
    assert detail["free_places"] == 0 and detail["decision"]["joins_waiting_list"]
    body = _post(
        client, BOOK, {"offering_id": session.offering_id, "guardian_ids": [guardians[0].pk]}
    ).json()

    assert body["status"] == "waiting" and body["waiting_position"] == 2
    again = client.get(f"/api/v1/catalogue/sessions/{session.pk}").json()["decision"]
    assert again["my_booking"] == {
        "id": body["id"],
        "status": "waiting",
        "party_size": 1,
        "children_count": 0,
        "waiting_position": 2,
    }
    assert again["can_book"] is False and again["can_cancel"] is True


def test_cancelling_a_confirmed_place_promotes_the_first_waiting_family(parent):
    family, guardians, _kids, client = parent
    session = make_session(CourseFactory(), capacity=1)
    mine = _post(
        client, BOOK, {"offering_id": session.offering_id, "guardian_ids": [guardians[0].pk]}
    ).json()
    other, other_guardians, _ = make_family()
    waiting = book(session.offering_id, other, other_guardians)
    assert waiting.status == Booking.Status.WAITING

    answer = _post(client, f"{BOOK}/{mine['id']}/cancel", {})

    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled" and answer.json()["cancelled_at"]
    waiting.refresh_from_db()
    assert waiting.status == Booking.Status.CONFIRMED and waiting.promoted_at is not None
    again = _post(client, f"{BOOK}/{mine['id']}/cancel", {})
    assert again.status_code == 400 and again.json()["code"] == "already_cancelled"


def test_another_familys_members_and_bookings_are_refused(parent):
    family, guardians, kids, client = parent
    session = make_session(CourseFactory(), capacity=5)
    other, other_guardians, other_kids = make_family(children=1)
    theirs = book(session.offering_id, other, other_guardians)

    for party in (
        {"guardian_ids": [other_guardians[0].pk]},
        {"guardian_ids": [guardians[0].pk], "child_ids": [other_kids[0].pk]},
    ):
        answer = _post(client, BOOK, {"offering_id": session.offering_id, **party})
        assert answer.status_code == 400 and answer.json()["code"] == "not_family_member"
    assert not Booking.objects.filter(family=family).exists()
    # Their booking is not found, as a missing one: no read, no cancel.
    assert client.get(f"{BOOK}/{theirs.pk}").status_code == 404
    answer = _post(client, f"{BOOK}/{theirs.pk}/cancel", {})
    assert answer.status_code == 404 and answer.json()["code"] == "booking_missing"
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.CONFIRMED


def test_an_unpublished_course_or_an_events_offering_cannot_be_booked_here(parent):
    _family, guardians, _kids, client = parent
    hidden = make_session(CourseFactory(is_published=False))
    event = make_event()
    for offering_id in (hidden.offering_id, event.offering_id, 987654321):
        answer = _post(
            client, BOOK, {"offering_id": offering_id, "guardian_ids": [guardians[0].pk]}
        )
        assert answer.status_code == 404, offering_id
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "offering_id"),
        ({"offering_id": "abc", "guardian_ids": [1]}, "offering_id"),
        ({"offering_id": 10**30, "guardian_ids": [1]}, "offering_id"),
        ({"offering_id": -1, "guardian_ids": [1]}, "offering_id"),
        ({"offering_id": 1, "guardian_ids": ["x"]}, "guardian_ids.0"),
        ({"offering_id": 1, "guardian_ids": [10**20]}, "guardian_ids.0"),
        ({"offering_id": 1, "child_ids": "5"}, "child_ids"),
        ({"offering_id": 1, "child_ids": list(range(1, 40))}, "child_ids"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_books_nothing(parent, body, field):
    _family, _guardians, _kids, client = parent
    answer = _post(client, BOOK, body)
    assert answer.status_code == 422, answer.content
    assert field in answer.json()["fields"]
    assert not Booking.objects.exists()


def test_a_body_that_is_not_json_is_a_4xx(parent):
    *_rest, client = parent
    answer = client.post(BOOK, "{nope", content_type="application/json")
    assert 400 <= answer.status_code < 500


def test_an_empty_party_is_refused_with_the_pages_message(parent):
    *_rest, client = parent
    session = make_session(CourseFactory())
    answer = _post(client, BOOK, {"offering_id": session.offering_id})
    assert answer.status_code == 400 and answer.json()["code"] == "empty_party"
    assert "参加人" in answer.json()["message"]


def test_writes_need_the_write_scope_and_a_family():
    family, guardians, _ = make_family()
    session = make_session(CourseFactory())
    reader = _client(guardians[0].user, scopes=["read"])
    answer = _post(
        reader, BOOK, {"offering_id": session.offering_id, "guardian_ids": [guardians[0].pk]}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "scope_missing"
    assert reader.get(MINE).status_code == 200
    nobody = _post(Client(), BOOK, {"offering_id": session.offering_id, "guardian_ids": [1]})
    assert nobody.status_code == 401
    no_family = _client(UserFactory())
    answer = _post(no_family, BOOK, {"offering_id": session.offering_id, "guardian_ids": [1]})
    assert answer.status_code == 400 and answer.json()["code"] == "no_family"
    assert no_family.get(MINE).json()["has_family"] is False


def test_my_learning_lists_upcoming_waiting_with_position_past_and_credits(week):  # noqa: F811
    client = _client(week.mother.user)

    body = client.get(MINE).json()

    assert body["has_family"] is True
    upcoming = {(i["kind"], i["title"]) for i in body["upcoming"]}
    assert upcoming == {("course", "亲子沟通的艺术"), ("event", "家庭教育讲座：青春期亲子沟通")}
    event_item = next(i for i in body["upcoming"] if i["kind"] == "event")
    assert event_item["ticket"].isdigit() and event_item["event_id"] == week.event.pk
    assert event_item["miniprogram_path"] == f"pages/event/detail?id={week.event.pk}"
    (waiting,) = body["waiting"]
    assert waiting["title"] == "满员的课" and waiting["waiting_position"] == 2
    (past,) = body["past"]
    assert past["title"] == "上过的课" and past["attendance"] == "present"
    assert float(past["credits"]) == 4.0  # 王妈妈 and 小明, 2 each
    assert body["past_page"] == {"page": 1, "pages": 1, "count": 1, "has_next": False}
    members = {(b["member"], float(b["total"])) for b in body["credits"]["balances"]}
    assert members == {("王妈妈", 2.0), ("小明", 2.0)}
    assert len(body["credits"]["recent"]) == 2


def test_my_learning_takes_the_same_queries_for_one_item_or_many(django_assert_max_num_queries):
    family, guardians, kids = make_family(children=1)
    client = _client(guardians[0].user)
    book(make_session(CourseFactory()).offering_id, family, guardians, kids)
    with django_assert_max_num_queries(LEARNING_MAX_QUERIES):
        one = client.get(MINE).json()
    assert len(one["upcoming"]) == 1

    for i in range(8):
        book(
            make_session(CourseFactory(), starts_in=timedelta(days=2 + i)).offering_id,
            family,
            guardians,
            kids,
        )
        full = make_session(CourseFactory(), capacity=1)
        fill_up(full.offering_id)
        book(full.offering_id, family, guardians)
        event = make_event(starts_at=timezone.now() + timedelta(days=2 + i))
        event_register(
            event_id=event.pk,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
        )
    with django_assert_max_num_queries(LEARNING_MAX_QUERIES):
        many = client.get(MINE).json()
    assert len(many["upcoming"]) == 17 and len(many["waiting"]) == 8
    assert [i["waiting_position"] for i in many["waiting"]] == [1] * 8
