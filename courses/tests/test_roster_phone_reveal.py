"""Rosters on the day: phones are masked, and the session's own coordinator or
instructor reveals a family's number with one tap (course sessions and events);
each reveal is audit-logged, capped per hour, and scoped like the roster."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.services import event_register
from events.tests.factories import make_event
from members.models import AuditLog, RoleAssignment
from members.selectors import PHONE_REVEAL_ACTION
from members.tests.factories import RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def _book(session, *, guardians=1, status_full=False):
    family, people, kids = make_family(children=1, guardians=guardians)
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=people[0].user,
        guardian_ids=[people[0].pk],
        child_ids=[kids[0].pk],
    )
    return booking, people


def _staff(unit, role=RoleAssignment.Role.UNIT_COORDINATOR) -> Client:
    client = Client()
    client.force_login(RoleAssignmentFactory(role=role, unit=unit).user)
    return client


def _roster(session):
    return reverse("courses:roster", args=[session.pk])


def _reveal(session):
    return reverse("courses:roster_reveal", args=[session.pk])


def _reveals():
    return AuditLog.objects.filter(action=PHONE_REVEAL_ACTION)


@pytest.fixture
def session():
    return make_session(CourseFactory(credits=1), starts_in=timedelta(hours=1))


def test_the_roster_masks_phones_until_the_coordinator_reveals_one(session):
    # given a session with two booked families and its unit's coordinator
    booking, people = _book(session, guardians=2)
    other, other_people = _book(session)
    client = _staff(session.offering.unit)
    phone = people[0].phone

    # when the coordinator opens the roster
    page = client.get(_roster(session)).content.decode()

    # then every number is masked and each family has a reveal button
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page
    assert page.count('name="reveal"') == 2
    assert "tel:" not in page

    # when the coordinator taps 「显示号码」 on the first family (a plain form post)
    response = client.post(_reveal(session), {"reveal": booking.pk})

    # then they are sent back to that row, which now shows both guardians' numbers to call
    assert response.status_code == 302
    assert response["Location"] == _roster(session) + f"#booking-{booking.pk}"
    page = client.get(_roster(session)).content.decode()
    for guardian in people:
        assert f'href="tel:{guardian.phone}"' in page
    # ... printed masked, and the other family's number stays masked
    assert f'<span class="print-only">{phone[:3]}****{phone[-4:]}</span>' in page
    assert other_people[0].phone not in page
    assert page.count('name="reveal"') == 1

    # and each number shown is one audit entry: who, whose phone, which session
    entries = list(_reveals().order_by("target_id"))
    assert [e.target_id for e in entries] == sorted(str(g.pk) for g in people)
    entry = entries[0]
    assert entry.actor_id == response.wsgi_request.user.pk
    assert entry.target_type == "members.Guardian"
    assert entry.data["about_type"] == "courses.CourseSession"
    assert entry.data["about_id"] == session.pk
    assert phone not in json.dumps(entry.data)  # the log itself keeps the number masked

    # and reloading the roster shows the number again without a second entry
    client.get(_roster(session))
    assert _reveals().count() == 2


def test_an_instructor_of_the_unit_may_reveal_too(session):
    booking, people = _book(session)
    client = _staff(session.offering.unit, RoleAssignment.Role.INSTRUCTOR)

    response = client.post(_reveal(session), {"reveal": booking.pk})

    assert response.status_code == 302
    assert f'href="tel:{people[0].phone}"' in client.get(_roster(session)).content.decode()


def test_the_script_gets_the_numbers_as_json(session):
    booking, people = _book(session)
    client = _staff(session.offering.unit)

    response = client.post(
        _reveal(session), {"reveal": booking.pk}, headers={"accept": "application/json"}
    )

    assert response.status_code == 200
    [contact] = response.json()["contacts"]
    assert contact["phone"] == people[0].phone
    assert contact["tel"] == f"tel:{people[0].phone}"
    assert contact["guardian_id"] == people[0].pk
    assert contact["relation"] == "妈妈"


def test_another_units_staff_and_foreign_bookings_get_404_and_nothing_is_logged(session):
    # given a booking on this session, and another session at another unit
    booking, people = _book(session)
    elsewhere = make_session(CourseFactory(), starts_in=timedelta(hours=1))
    foreign_booking, _ = _book(elsewhere)
    own = _staff(session.offering.unit)
    stranger = _staff(elsewhere.offering.unit)

    # when the other unit's coordinator asks for this session's family
    # then it is 404, like a missing session
    assert stranger.post(_reveal(session), {"reveal": booking.pk}).status_code == 404
    # and neither may name the other session's booking on their own roster
    assert stranger.post(_reveal(elsewhere), {"reveal": booking.pk}).status_code == 404
    assert own.post(_reveal(session), {"reveal": foreign_booking.pk}).status_code == 404
    # nor a made-up or missing id
    assert own.post(_reveal(session), {"reveal": "abc"}).status_code == 404
    assert own.post(_reveal(session), {}).status_code == 404
    # and a GET reveals nothing
    assert own.get(_reveal(session) + f"?reveal={booking.pk}").status_code == 405
    assert not _reveals().exists()


def test_a_parent_cannot_reveal(session, client):
    booking, people = _book(session)
    client.force_login(people[0].user)

    assert client.post(_reveal(session), {"reveal": booking.pk}).status_code == 403
    assert not _reveals().exists()


def test_a_waiting_or_cancelled_family_is_not_on_the_roster_to_reveal(session):
    booking, _ = _book(session)
    booking_services.booking_cancel(
        booking_id=booking.pk, family=None, cancelled_by=None, force=True
    )
    client = _staff(session.offering.unit)

    assert client.post(_reveal(session), {"reveal": booking.pk}).status_code == 404


def test_reveals_are_capped_per_hour_with_a_clear_message(session, settings):
    # given a cap of two numbers an hour and three booked families
    settings.ROSTER_PHONE_REVEALS_PER_HOUR = 2
    bookings = [_book(session)[0] for _ in range(3)]
    client = _staff(session.offering.unit)
    client.post(_reveal(session), {"reveal": bookings[0].pk})
    client.post(_reveal(session), {"reveal": bookings[1].pk})

    # when the coordinator asks for a third
    response = client.post(_reveal(session), {"reveal": bookings[2].pk}, follow=True)

    # then they are told in Chinese, back on the roster, and nothing more is logged
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [
        "一小时内最多可查看 2 个完整手机号，您已达到上限，请稍后再试。遮盖的号码仍可在名单上核对。"
    ]
    assert _reveals().count() == 2
    # and the script is answered 429 with the same message
    answer = client.post(
        _reveal(session), {"reveal": bookings[2].pk}, headers={"accept": "application/json"}
    )
    assert answer.status_code == 429 and "上限" in answer.json()["error"]
    # while another coordinator still may
    other = _staff(session.offering.unit)
    assert other.post(_reveal(session), {"reveal": bookings[2].pk}).status_code == 302
    assert _reveals().count() == 3


def test_a_revealed_number_is_masked_again_after_a_while(session, settings):
    booking, people = _book(session)
    client = _staff(session.offering.unit)
    settings.ROSTER_PHONE_SHOWN_SECONDS = 0

    client.post(_reveal(session), {"reveal": booking.pk})

    assert people[0].phone not in client.get(_roster(session)).content.decode()


def test_the_roster_costs_the_same_queries_for_three_families_or_thirty(
    django_assert_max_num_queries,
):
    session = make_session(CourseFactory(), capacity=100, starts_in=timedelta(hours=1))
    client = _staff(session.offering.unit)
    for _ in range(3):
        _book(session)
    client.get(_roster(session))  # warm the session and the role cache
    with django_assert_max_num_queries(30) as few:
        client.get(_roster(session))
    for _ in range(27):
        _book(session)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(_roster(session)).content.decode()
    assert page.count('name="reveal"') == 30


# --- the event roster (events/manage) ---------------------------------------------


def _event_with_booking():
    event = make_event(starts_at=timezone.now() + timedelta(hours=1))
    family, people, kids = make_family(children=1)
    booking = event_register(
        event_id=event.pk, family=family, booked_by=people[0].user, guardian_ids=[people[0].pk]
    )
    return event, booking, people


def test_the_event_roster_reveals_a_number_to_its_own_staff_only():
    # given an event with a registered family, its unit's coordinator and a stranger
    event, booking, people = _event_with_booking()
    other_event, other_booking, _ = _event_with_booking()
    own = _staff(event.organiser_unit)
    stranger = _staff(other_event.organiser_unit)
    manage = reverse("events:manage_detail", args=[event.pk])
    reveal = reverse("events:manage_reveal", args=[event.pk])
    phone = people[0].phone

    # when the coordinator opens the event roster, the number is masked with a button
    page = own.get(manage).content.decode()
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page
    assert f'action="{reveal}"' in page

    # then a stranger, a foreign booking and another event's roster are all 404
    assert stranger.post(reveal, {"reveal": booking.pk}).status_code == 404
    assert own.post(reveal, {"reveal": other_booking.pk}).status_code == 404
    assert not _reveals().exists()

    # when the coordinator taps 「显示号码」
    response = own.post(reveal, {"reveal": booking.pk})

    # then the row shows the number with a tel: link, and the reveal is logged on the event
    assert response["Location"] == manage + f"#booking-{booking.pk}"
    assert f'href="tel:{phone}"' in own.get(manage).content.decode()
    [entry] = _reveals()
    assert entry.data["about_type"] == "events.Event" and entry.data["about_id"] == event.pk
    assert entry.target_id == str(people[0].pk)


def test_a_waiting_family_on_the_event_is_not_revealed():
    event = make_event(capacity=1)
    first, first_people, _ = make_family()
    event_register(
        event_id=event.pk, family=first, booked_by=None, guardian_ids=[first_people[0].pk]
    )
    waiting_family, waiting_people, _ = make_family()
    waiting = event_register(
        event_id=event.pk,
        family=waiting_family,
        booked_by=None,
        guardian_ids=[waiting_people[0].pk],
    )
    assert waiting.status == Booking.Status.WAITING
    client = _staff(event.organiser_unit)

    response = client.post(reverse("events:manage_reveal", args=[event.pk]), {"reveal": waiting.pk})

    assert response.status_code == 404
