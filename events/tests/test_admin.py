"""Admin for events goes through the services and is scoped by unit."""

import datetime

import pytest
from django.urls import reverse

from events.models import Event
from events.tests.factories import make_event
from members.models import RoleAssignment
from members.tests.factories import MemberUnitFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user():
    user = RoleAssignmentFactory(role=RoleAssignment.Role.DISTRICT_ADMIN, unit=None).user
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


def test_the_admin_creates_an_event_with_its_places(client, admin_user):
    # given a district administrator in the admin
    unit = MemberUnitFactory()
    client.force_login(admin_user)
    assert client.get(reverse("admin:events_event_add")).status_code == 200

    # when an event is added
    response = client.post(
        reverse("admin:events_event_add"),
        {
            "title": "渝中家长成长指导中心开放日",
            "kind": "seminar",
            "audience": "parents",
            "organiser_unit": unit.pk,
            "venue": "渝中区社区教育学院",
            "online_url": "",
            "description": "",
            "status": "published",
            "starts_at_0": "2030-06-01",
            "starts_at_1": "09:00",
            "ends_at_0": "2030-06-01",
            "ends_at_1": "11:00",
            "starts_at": "2030-06-01 09:00",
            "ends_at": "2030-06-01 11:00",
            "capacity": "60",
            "reminder_rules-TOTAL_FORMS": "1",
            "reminder_rules-INITIAL_FORMS": "0",
            "reminder_rules-0-offset_minutes": "180",
            "reminder_rules-0-is_active": "on",
        },
    )

    # then the event has its offering (Shanghai 09:00 = 01:00 UTC) and its own rule
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors,
        response.context and [f.formset.errors for f in response.context["inline_admin_formsets"]],
    )
    event = Event.objects.get()
    assert event.offering.capacity == 60
    assert event.offering.starts_at == datetime.datetime(2030, 6, 1, 1, 0, tzinfo=datetime.UTC)
    assert list(event.reminder_rules.values_list("offset_minutes", flat=True)) == [180]


def test_the_admin_list_is_scoped_to_the_coordinators_units(client):
    # given an alliance coordinator's unit event and another unit's event
    mine, other = MemberUnitFactory(), MemberUnitFactory()
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR, unit=mine).user
    coordinator.is_staff = True
    coordinator.save()
    from django.contrib.auth.models import Permission

    coordinator.user_permissions.add(*Permission.objects.filter(codename__endswith="_event"))
    make_event(organiser_unit=mine, title="本单位活动")
    foreign = make_event(organiser_unit=other, title="外单位活动")
    client.force_login(coordinator)

    # when the admin list and the other event are opened
    page = client.get(reverse("admin:events_event_changelist")).content.decode()

    # then only their own event is there, and the other is not found
    assert "本单位活动" in page and "外单位活动" not in page
    assert client.get(reverse("admin:events_event_change", args=[foreign.pk])).status_code == 404


def test_moving_an_event_in_the_admin_notifies_registrants(client, admin_user):
    # given a published event with one registered family
    from events.models import Delivery
    from events.services import event_register
    from members.tests.factories import GuardianFactory

    event = make_event(starts_at=datetime.datetime(2030, 6, 1, 1, 0, tzinfo=datetime.UTC))
    guardian = GuardianFactory()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    client.force_login(admin_user)

    # when the admin moves it by a day
    response = client.post(
        reverse("admin:events_event_change", args=[event.pk]),
        {
            "title": event.title,
            "kind": event.kind,
            "audience": event.audience,
            "organiser_unit": event.organiser_unit_id,
            "venue": event.venue,
            "online_url": "",
            "description": "",
            "status": "published",
            "starts_at_0": "2030-06-02",
            "starts_at_1": "09:00",
            "ends_at_0": "2030-06-02",
            "ends_at_1": "11:00",
            "starts_at": "2030-06-02 09:00",
            "ends_at": "2030-06-02 11:00",
            "capacity": "2000",
            "reminder_rules-TOTAL_FORMS": "0",
            "reminder_rules-INITIAL_FORMS": "0",
        },
    )

    # then the offering moved and the family has a time-changed notice per channel
    assert response.status_code == 302
    event.offering.refresh_from_db()
    assert event.offering.starts_at == datetime.datetime(2030, 6, 2, 1, 0, tzinfo=datetime.UTC)
    assert Delivery.objects.filter(purpose="time_changed").count() == 2
