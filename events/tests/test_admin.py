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
    user = RoleAssignmentFactory(role=RoleAssignment.Role.CITY_ADMIN, unit=None).user
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


def _told(offering, purpose):
    from collections import Counter

    from events.models import Delivery

    return Counter(
        Delivery.objects.filter(offering=offering, purpose=purpose).values_list(
            "user_id", "channel"
        )
    )


def _registered(event, families=2):
    from events.services import event_register
    from members.tests.factories import GuardianFactory

    guardians = [GuardianFactory() for _ in range(families)]
    for guardian in guardians:
        event_register(
            event_id=event.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    return {(g.user_id, channel) for g in guardians for channel in ("inbox", "email")}


def _event_form(event, starts):
    from django.utils import timezone

    starts = timezone.localtime(starts)
    ends = starts + datetime.timedelta(hours=2)
    return {
        "title": event.title,
        "kind": event.kind,
        "audience": event.audience,
        "organiser_unit": event.organiser_unit_id,
        "venue": event.venue,
        "online_url": "",
        "description": "",
        "status": "published",
        "starts_at": starts.strftime("%Y-%m-%d %H:%M:%S"),
        "ends_at": ends.strftime("%Y-%m-%d %H:%M:%S"),
        "capacity": str(event.offering.capacity),
        "reminder_rules-TOTAL_FORMS": "0",
        "reminder_rules-INITIAL_FORMS": "0",
    }


def test_an_admin_move_tells_each_family_once_and_reminders_follow(client, admin_user):
    from events.models import Delivery
    from events.reminders import reminders_plan_due
    from members.models import AuditLog

    # given a published event with two registered families
    event = make_event(starts_at=datetime.datetime(2030, 6, 1, 1, 0, tzinfo=datetime.UTC))
    recipients = _registered(event)
    old_start = event.offering.starts_at
    new_start = old_start + datetime.timedelta(days=1)
    client.force_login(admin_user)
    url = reverse("admin:events_event_change", args=[event.pk])

    # when the admin moves it, then saves it again unchanged
    assert client.post(url, _event_form(event, new_start)).status_code == 302
    assert client.post(url, _event_form(event, new_start)).status_code == 302

    # then each guardian is told once per channel, and the move is audited once
    told = _told(event.offering, Delivery.Purpose.TIME_CHANGED)
    assert set(told) == recipients and set(told.values()) == {1}
    assert AuditLog.objects.filter(action="bookings.offering.move", actor=admin_user).count() == 1
    # and reminders are planned for the new time, not the old one
    reminders_plan_due(now=old_start - datetime.timedelta(minutes=119))
    reminders = Delivery.objects.filter(offering=event.offering, purpose="reminder")
    assert not reminders.exists()
    reminders_plan_due(now=new_start - datetime.timedelta(minutes=119))
    assert set(reminders.values_list("scheduled_for", flat=True)) == {
        new_start - datetime.timedelta(minutes=120)
    }


def test_an_admin_cancel_tells_each_family_once_and_stops_reminders(client, admin_user):
    from bookings.models import Offering
    from events.models import Delivery
    from events.reminders import reminders_plan_due
    from members.models import AuditLog

    # given a published event with two registered families
    event = make_event(starts_at=datetime.datetime(2030, 6, 1, 1, 0, tzinfo=datetime.UTC))
    recipients = _registered(event)
    client.force_login(admin_user)

    # when the admin cancels it with the action, twice
    for _ in range(2):
        response = client.post(
            reverse("admin:events_event_changelist"),
            {"action": "cancel_events", "_selected_action": [event.pk]},
        )
        assert response.status_code == 302

    # then the event and its places are cancelled, audited once
    event.refresh_from_db()
    event.offering.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
    assert event.offering.status == Offering.Status.CANCELLED
    assert AuditLog.objects.filter(action="events.event.cancel", actor=admin_user).count() == 1
    # and each guardian is told once per channel, and no reminder follows
    told = _told(event.offering, Delivery.Purpose.CANCELLED)
    assert set(told) == recipients and set(told.values()) == {1}
    reminders_plan_due(now=event.offering.starts_at - datetime.timedelta(minutes=119))
    assert not Delivery.objects.filter(offering=event.offering, purpose="reminder").exists()


def test_saving_an_event_unchanged_tells_nobody(client, admin_user):
    from django.utils import timezone

    from events.models import Delivery

    # given an event whose start has microseconds (made by a service, not a form)
    event = make_event(starts_at=timezone.now() + datetime.timedelta(days=3))
    _registered(event, families=1)
    client.force_login(admin_user)
    # when the admin changes only its title
    data = {**_event_form(event, event.offering.starts_at), "title": "新标题"}
    response = client.post(reverse("admin:events_event_change", args=[event.pk]), data)
    # then nobody is told of a "new" time
    assert response.status_code == 302
    assert not Delivery.objects.filter(offering=event.offering, purpose="time_changed").exists()


def test_a_district_admin_who_is_not_a_superuser_manages_events(client):
    # given a district administrator given the role (not a superuser)
    from members import registry
    from members.tests.factories import UserFactory

    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    district = UserFactory(username="district")
    registry.role_assign(actor=root, user=district, role=RoleAssignment.Role.CITY_ADMIN)
    event = make_event()
    client.force_login(district)
    # then events and the delivery log open, and the event can be cancelled
    assert client.get(reverse("admin:events_event_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:events_delivery_changelist")).status_code == 200
    client.post(
        reverse("admin:events_event_changelist"),
        {"action": "cancel_events", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
