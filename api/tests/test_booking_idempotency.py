"""Idempotency-Key on booking and cancelling: a retry gets the first answer and
never a second booking, also when both requests arrive at the same instant; the
same key on a different request is refused."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from api.models import IdempotentRequest
from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.tests.factories import make_event
from members.tests.factories import ApiTokenFactory
from tests.races import run_together

BOOK = "/api/v1/learning/bookings"


def _client(user):
    _, raw = ApiTokenFactory.create(user=user, scopes=["read", "write"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def booking_case(db):
    family, guardians, kids = make_family(children=1)
    session = make_session(CourseFactory(), capacity=5)
    body = {
        "offering_id": session.offering_id,
        "guardian_ids": [guardians[0].pk],
        "child_ids": [kids[0].pk],
    }
    return family, _client(guardians[0].user), body


def test_the_same_key_twice_gives_one_booking_and_the_identical_answer(booking_case):
    family, client, body = booking_case

    first = _post(client, BOOK, body, key="k-1")
    retry = _post(client, BOOK, body, key="k-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Booking.objects.filter(family=family).count() == 1
    # Without a key a second booking is the rule's refusal, not a second booking.
    again = _post(client, BOOK, body)
    assert again.status_code == 400 and again.json()["code"] == "already_booked"


def test_the_same_key_on_a_different_request_is_refused(booking_case):
    family, client, body = booking_case
    assert _post(client, BOOK, body, key="k-2").status_code == 201
    answer = _post(client, BOOK, {**body, "child_ids": []}, key="k-2")
    assert answer.status_code == 422
    assert answer.json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in answer.json()["fields"]
    assert Booking.objects.get(family=family).children_count == 1


def test_a_refusal_is_an_answer_too_and_is_replayed(booking_case):
    _family, client, body = booking_case
    bad = {**body, "guardian_ids": [987654321]}
    first = _post(client, BOOK, bad, key="k-3")
    retry = _post(client, BOOK, bad, key="k-3")
    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json() and first.json()["code"] == "not_family_member"


def test_cancelling_twice_with_one_key_cancels_once_and_answers_the_same(booking_case):
    family, client, body = booking_case
    booking_id = _post(client, BOOK, body).json()["id"]

    first = _post(client, f"{BOOK}/{booking_id}/cancel", {}, key="c-1")
    retry = _post(client, f"{BOOK}/{booking_id}/cancel", {}, key="c-1")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and first.json()["status"] == "cancelled"
    fresh = _post(client, f"{BOOK}/{booking_id}/cancel", {}, key="c-2")
    assert fresh.status_code == 400 and fresh.json()["code"] == "already_cancelled"


def test_event_registration_and_its_cancel_take_a_key_too(db):
    family, guardians, _ = make_family()
    client = _client(guardians[0].user)
    event = make_event()
    url = f"/api/v1/events/{event.pk}/registration"
    body = {"guardian_ids": [guardians[0].pk]}
    first = _post(client, url, body, key="e-1")
    assert first.status_code == 201 and _post(client, url, body, key="e-1").json() == first.json()
    assert Booking.objects.filter(family=family).count() == 1
    gone = _post(client, f"{url}/cancel", {}, key="e-2")
    assert (
        gone.status_code == 200
        and _post(client, f"{url}/cancel", {}, key="e-2").json() == gone.json()
    )


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_with_one_key_book_once_and_answer_alike():
    # given a parent whose phone sends the same booking twice at the same instant
    family, guardians, kids = make_family(children=1)
    session = make_session(CourseFactory(), capacity=5)
    _, raw = ApiTokenFactory.create(user=guardians[0].user, scopes=["read", "write"])
    body = {
        "offering_id": session.offering_id,
        "guardian_ids": [guardians[0].pk],
        "child_ids": [kids[0].pk],
    }

    def send():
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = _post(client, BOOK, body, key="same-instant")
        return response.status_code, response.json()

    # when both reach the key's row together (each in its own connection)
    outcome = run_together([send, send], meet_before_write=["api_idempotentrequest"])

    # then one booking, and both answers are the first one's
    assert not outcome.errors, outcome.errors
    assert outcome.met == 2
    (status_a, answer_a), (status_b, answer_b) = outcome.results
    assert status_a == status_b == 201 and answer_a == answer_b
    assert Booking.objects.filter(family=family).count() == 1
    assert IdempotentRequest.objects.filter(key="same-instant").count() == 1
