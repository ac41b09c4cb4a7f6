"""Multi-district scoping of the API's staff answers (issue 19): a district
administrator's token lists, reads and checks in their district's sessions and
events only; another district's offering is the same 404 as a wrong id and its
ticket is refused; the city administrator's token reaches both."""

import pytest
from django.test import Client
from django.utils import timezone

from api.tests.test_staff_api import SOON, book, family, get, post, session_at, token
from events.services import ticket_code
from events.tests.factories import make_event
from members.tests.districts import two_districts

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = two_districts()
    w.session_a = session_at(w.a.unit, title="渝中的课")
    w.session_b = session_at(w.b.unit, title="乙方的课")
    w.event_a = make_event(
        organiser_unit=w.a.unit, title="渝中讲座", starts_at=timezone.now() + SOON
    )
    w.event_b = make_event(
        organiser_unit=w.b.unit, title="乙方讲座", starts_at=timezone.now() + SOON
    )
    mother, (child,) = family("王妈妈", child="小明")
    w.booking_a = book(w.session_a.offering_id, mother, [child])
    father, _ = family("李爸爸")
    w.booking_b = book(w.session_b.offering_id, father)
    return w


def _titles(answer) -> set[str]:
    return {item["title"] for item in answer.json()["items"]}


def test_a_district_admins_lists_are_their_districts(world):
    raw = token(world.a.admin, ["read"])
    assert _titles(get(Client(), "/sessions", raw)) == {"渝中的课"}
    assert _titles(get(Client(), "/events", raw)) == {"渝中讲座"}
    city = token(world.city_admin, ["read"])
    assert _titles(get(Client(), "/sessions", city)) == {"渝中的课", "乙方的课"}
    assert _titles(get(Client(), "/events", city)) == {"渝中讲座", "乙方讲座"}


def test_another_districts_roster_is_not_found(world):
    raw = token(world.a.admin, ["read"])
    own = get(Client(), f"/offerings/{world.session_a.offering_id}/roster", raw)
    assert own.status_code == 200
    for offering_id in (world.session_b.offering_id, world.event_b.offering_id):
        assert get(Client(), f"/offerings/{offering_id}/roster", raw).status_code == 404
    city = token(world.city_admin, ["read"])
    assert (
        get(Client(), f"/offerings/{world.session_b.offering_id}/roster", city).status_code == 200
    )


def test_a_district_admin_checks_in_their_districts_tickets_only(world):
    raw = token(world.a.admin, ["checkin"])
    refused = post(Client(), "/checkin", {"code": ticket_code(booking=world.booking_b)}, raw)
    assert refused.status_code == 403 and refused.json()["code"] == "checkin_not_yours"
    done = post(Client(), "/checkin", {"code": ticket_code(booking=world.booking_a)}, raw)
    assert done.status_code == 200 and done.json()["title"] == "渝中的课"
    world.booking_b.refresh_from_db()
    assert world.booking_b.attendance == "unknown"
