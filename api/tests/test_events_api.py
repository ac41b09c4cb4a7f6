"""Events through the API: the public list (published and not over, soonest first,
a keyset cursor), an event with live free places, the family's registration and
ticket and a share card; registering and withdrawing through the events services."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.conftest import make_family
from events.models import Event
from events.tests.factories import make_event
from members.tests.factories import ApiTokenFactory
from portal.tests.conftest import fill_up

pytestmark = pytest.mark.django_db

LIST = "/api/v1/events/"
LIST_MAX_QUERIES = 1  # anonymous: the events with their offering and organisers


def _client(user, scopes=("read", "write")):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def _soon(days):
    return timezone.now() + timedelta(days=days)


def test_the_list_is_published_upcoming_events_soonest_first_paged_by_cursor():
    shown = [make_event(title=f"活动{i}", starts_at=_soon(5 - i)) for i in range(5)]
    make_event(title="草稿", status=Event.Status.DRAFT)
    make_event(title="已结束", starts_at=timezone.now() - timedelta(days=2))
    client = Client()

    first = client.get(LIST, {"limit": 2}).json()
    # An event added before the cursor meanwhile is not shown on later pages.
    make_event(title="新加的", starts_at=_soon(0.5))
    ids, cursor = [e["id"] for e in first["items"]], first["next_cursor"]
    while cursor:
        page = client.get(LIST, {"limit": 2, "cursor": cursor}).json()
        ids += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]

    assert ids == [e.pk for e in reversed(shown)]


def test_the_list_filters_by_kind_and_refuses_an_unknown_one():
    lecture = make_event(kind=Event.Kind.LECTURE)
    make_event(kind=Event.Kind.WORKSHOP)
    client = Client()
    items = client.get(LIST, {"kind": "lecture"}).json()["items"]
    assert [e["id"] for e in items] == [lecture.pk]
    answer = client.get(LIST, {"kind": "party"})
    assert answer.status_code == 422 and "kind" in answer.json()["fields"]


def test_the_list_takes_the_same_queries_for_one_or_many_events(django_assert_max_num_queries):
    make_event()
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        assert len(Client().get(LIST).json()["items"]) == 1
    for i in range(15):
        make_event(starts_at=_soon(1 + i))
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        assert len(Client().get(LIST).json()["items"]) == 16


def test_an_event_shows_live_free_places_and_a_share_card():
    event = make_event(title="家庭教育讲座", capacity=3, description="<p>讲座内容</p>")
    body = Client().get(f"{LIST}{event.pk}").json()
    assert body["title"] == "家庭教育讲座" and body["free_places"] == 3
    assert body["decision"]["can_book"] is True and body["ticket"] == ""
    assert body["share"]["miniprogram_path"] == f"pages/event/detail?id={event.pk}"
    assert body["share"]["url"].endswith(f"/events/{event.pk}/")


def test_drafts_and_unknown_events_are_404():
    draft = make_event(status=Event.Status.DRAFT)
    client = Client()
    assert client.get(f"{LIST}{draft.pk}").status_code == 404
    assert client.get(f"{LIST}987654321").status_code == 404
    assert client.get(f"{LIST}99999999999999999999999").status_code == 422


def test_a_family_registers_gets_a_ticket_and_withdraws():
    family, guardians, kids = make_family(children=1)
    client = _client(guardians[0].user)
    event = make_event(capacity=10)

    answer = _post(
        client,
        f"{LIST}{event.pk}/registration",
        {"guardian_ids": [guardians[0].pk], "child_ids": [kids[0].pk]},
    )

    assert answer.status_code == 201, answer.content
    booking = answer.json()["booking"]
    assert booking["status"] == "confirmed" and booking["party_size"] == 2
    detail = client.get(f"{LIST}{event.pk}").json()
    assert detail["ticket"].isdigit() and detail["free_places"] == 8
    assert detail["decision"]["my_booking"]["id"] == booking["id"]
    twice = _post(client, f"{LIST}{event.pk}/registration", {"guardian_ids": [guardians[0].pk]})
    assert twice.status_code == 400 and twice.json()["code"] == "already_booked"

    gone = _post(client, f"{LIST}{event.pk}/registration/cancel", {})
    assert gone.status_code == 200 and gone.json()["booking"]["status"] == "cancelled"
    again = _post(client, f"{LIST}{event.pk}/registration/cancel", {})
    assert again.status_code == 400 and again.json()["code"] == "not_registered"


def test_a_full_event_puts_the_family_on_its_waiting_list_and_a_withdrawal_promotes():
    family, guardians, _ = make_family()
    client = _client(guardians[0].user)
    event = make_event(capacity=1)
    fill_up(event.offering_id)
    waiting = _post(client, f"{LIST}{event.pk}/registration", {"guardian_ids": [guardians[0].pk]})
    assert waiting.json()["booking"]["status"] == "waiting"
    assert waiting.json()["booking"]["waiting_position"] == 1

    first = Booking.objects.get(offering_id=event.offering_id, status=Booking.Status.CONFIRMED)
    _first_client = _client(first.booked_by)
    assert _post(_first_client, f"{LIST}{event.pk}/registration/cancel", {}).status_code == 200

    mine = Booking.objects.get(family=family)
    assert mine.status == Booking.Status.CONFIRMED and mine.promoted_at is not None


def test_drafts_cannot_be_registered_for_nor_other_families_members():
    family, guardians, _ = make_family()
    _other, other_guardians, _ = make_family()
    client = _client(guardians[0].user)
    draft = make_event(status=Event.Status.DRAFT)
    answer = _post(client, f"{LIST}{draft.pk}/registration", {"guardian_ids": [guardians[0].pk]})
    assert answer.status_code == 404
    event = make_event()
    answer = _post(
        client, f"{LIST}{event.pk}/registration", {"guardian_ids": [other_guardians[0].pk]}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "not_family_member"
    answer = _post(client, f"{LIST}{event.pk}/registration", {"guardian_ids": ["me"]})
    assert answer.status_code == 422 and "guardian_ids.0" in answer.json()["fields"]
    assert not Booking.objects.filter(family=family).exists()


def test_a_cancelled_event_refuses_registration_with_the_pages_message():
    family, guardians, _ = make_family()
    client = _client(guardians[0].user)
    event = make_event()
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)
    answer = _post(client, f"{LIST}{event.pk}/registration", {"guardian_ids": [guardians[0].pk]})
    assert answer.status_code == 400 and answer.json()["code"] == "not_published"
    assert Client().get(f"{LIST}{event.pk}").json()["decision"]["refusal"] == "not_published"


def test_registering_needs_the_write_scope():
    _family, guardians, _ = make_family()
    reader = _client(guardians[0].user, scopes=["read"])
    event = make_event()
    answer = _post(reader, f"{LIST}{event.pk}/registration", {"guardian_ids": [guardians[0].pk]})
    assert answer.status_code == 403
