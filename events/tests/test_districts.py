"""Multi-district scoping of events (issue 19): a district administrator runs
their district's events — admin, coordinator pages, delivery log, calendar
links — and meets nothing of another district; the city administrator sees
both; reminder rules of a kind stay the city's (reference data)."""

import pytest
from django.urls import reverse

from events.models import CalendarFeed, Event
from events.services import calendar_feed_get_or_create
from events.tests.factories import make_event
from members.tests.districts import two_districts
from members.tests.factories import ChildFactory, FamilyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = two_districts()
    w.event_a = make_event(organiser_unit=w.a.unit, title="渝中亲子运动会")
    w.event_b = make_event(organiser_unit=w.b.unit, title="乙方亲子运动会")
    return w


def _titles(response) -> set[str]:
    return {e.title for e in response.context["cl"].result_list}


def test_a_district_admin_runs_their_districts_events_in_the_admin(client, world):
    client.force_login(world.a.admin)
    listing = client.get(reverse("admin:events_event_changelist"))
    assert listing.status_code == 200
    assert _titles(listing) == {"渝中亲子运动会"}
    assert (
        client.get(reverse("admin:events_event_change", args=[world.event_a.pk])).status_code == 200
    )
    # another district's event: the same 404 as a wrong id
    other = client.get(reverse("admin:events_event_change", args=[world.event_b.pk]))
    assert other.status_code == 404
    # cancelling both cancels only their own
    client.post(
        reverse("admin:events_event_changelist"),
        {"action": "cancel_events", "_selected_action": [world.event_a.pk, world.event_b.pk]},
    )
    statuses = dict(Event.objects.values_list("pk", "status"))
    assert statuses[world.event_a.pk] == Event.Status.CANCELLED
    assert statuses[world.event_b.pk] == Event.Status.PUBLISHED


def test_the_city_admin_sees_both_districts_events(client, world):
    client.force_login(world.city_admin)
    listing = client.get(reverse("admin:events_event_changelist"))
    assert _titles(listing) == {"渝中亲子运动会", "乙方亲子运动会"}


def test_the_coordinator_pages_list_the_districts_events_only(client, world):
    client.force_login(world.a.admin)
    page = client.get(reverse("events:manage_list"))
    assert page.status_code == 200
    assert {e.title for e in page.context["page"]} == {"渝中亲子运动会"}
    assert page.context["can_create"]
    assert client.get(reverse("events:manage_detail", args=[world.event_a.pk])).status_code == 200
    assert client.get(reverse("events:manage_detail", args=[world.event_b.pk])).status_code == 404
    client.force_login(world.city_admin)
    page = client.get(reverse("events:manage_list"))
    assert {e.title for e in page.context["page"]} == {"渝中亲子运动会", "乙方亲子运动会"}


def test_the_delivery_log_shows_the_districts_rows_only(client, world):
    from bookings.models import Offering
    from events.models import Delivery
    from members.tests.factories import UserFactory

    for event in (world.event_a, world.event_b):
        Delivery.objects.create(
            offering=Offering.objects.get(pk=event.offering_id),
            purpose=Delivery.Purpose.REMINDER,
            channel=Delivery.Channel.INBOX,
            user=UserFactory(),
            scheduled_for=event.offering.starts_at,
            due_at=event.offering.starts_at,
        )
    client.force_login(world.a.admin)
    listing = client.get(reverse("admin:events_delivery_changelist"))
    assert listing.status_code == 200
    assert {d.offering_id for d in listing.context["cl"].result_list} == {world.event_a.offering_id}
    client.force_login(world.city_admin)
    listing = client.get(reverse("admin:events_delivery_changelist"))
    assert len(listing.context["cl"].result_list) == 2


def test_a_district_admin_sees_their_districts_calendar_links_only(client, world):
    family_a, family_b = FamilyFactory(), FamilyFactory()
    ChildFactory(family=family_a, school=world.a.unit)
    ChildFactory(family=family_b, school=world.b.unit)
    feed_a = calendar_feed_get_or_create(family=family_a)
    feed_b = calendar_feed_get_or_create(family=family_b)
    url = reverse("admin:events_calendarfeed_changelist")

    client.force_login(world.a.admin)
    listing = client.get(url)
    assert listing.status_code == 200
    assert [f.pk for f in listing.context["cl"].result_list] == [feed_a.pk]
    assert feed_a.token not in listing.content.decode()
    assert (
        client.get(reverse("admin:events_calendarfeed_change", args=[feed_a.pk])).status_code == 200
    )
    assert (
        client.get(reverse("admin:events_calendarfeed_change", args=[feed_b.pk])).status_code == 404
    )

    client.force_login(world.city_admin)
    assert {f.pk for f in client.get(url).context["cl"].result_list} == {feed_a.pk, feed_b.pk}
    assert CalendarFeed.objects.count() == 2


def test_a_unit_coordinator_never_sees_calendar_links(client, world):
    from members import registry
    from members.models import RoleAssignment
    from members.tests.factories import UserFactory

    coordinator = UserFactory(username="unit_a_coord")
    registry.role_assign(
        actor=None, user=coordinator, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=world.a.unit
    )
    client.force_login(coordinator)
    assert client.get(reverse("admin:events_calendarfeed_changelist")).status_code == 403


def test_reminder_rules_of_a_kind_are_the_citys_to_edit(client, world):
    url = reverse("admin:events_reminderrule_changelist")
    client.force_login(world.a.admin)
    assert client.get(url).status_code == 403
    # … while their own event's rules are edited on the event
    change = client.get(reverse("admin:events_event_change", args=[world.event_a.pk]))
    assert change.status_code == 200
    assert "reminder_rules-TOTAL_FORMS" in change.content.decode()
    client.force_login(world.city_admin)
    assert client.get(url).status_code == 200
