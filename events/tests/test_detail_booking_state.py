"""The event page shows what the booking rules decided: windows, publication and
the family's cancel deadline (events.selectors.event_booking_decision)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Offering
from events.services import event_register
from events.tests.factories import make_event
from members.formatting import when_label
from members.tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db


def _page(client, event) -> str:
    return client.get(reverse("events:detail", args=[event.pk])).content.decode()


def test_registration_not_yet_open_says_when_it_opens(client):
    # given an event whose registration opens tomorrow
    opens = timezone.now() + timedelta(days=1)
    event = make_event(starts_at=timezone.now() + timedelta(days=5))
    Offering.objects.filter(pk=event.offering_id).update(booking_opens_at=opens)
    client.force_login(GuardianFactory().user)

    # then no registration form, and the opening time
    page = _page(client, event)
    assert reverse("events:register", args=[event.pk]) not in page
    assert f"报名将于 {when_label(opens)} 开始。" in page  # 12月3日 周三 18:00


def test_registration_closed_says_so(client):
    # given an event whose registration closed an hour ago
    event = make_event(starts_at=timezone.now() + timedelta(days=2))
    Offering.objects.filter(pk=event.offering_id).update(
        booking_closes_at=timezone.now() - timedelta(hours=1)
    )
    client.force_login(GuardianFactory().user)

    page = _page(client, event)
    assert "报名已截止。" in page
    assert reverse("events:register", args=[event.pk]) not in page


def test_an_open_event_offers_the_form(client):
    event = make_event()
    client.force_login(GuardianFactory().user)
    assert reverse("events:register", args=[event.pk]) in _page(client, event)


def test_after_the_cancel_deadline_a_registered_family_sees_no_cancel_button(client):
    # given a family registered for an event that starts in an hour
    event = make_event(starts_at=timezone.now() + timedelta(hours=1))
    guardian = GuardianFactory()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    client.force_login(guardian.user)

    # then it is too late to cancel on the page too
    page = _page(client, event)
    assert "您的家庭已报名" in page
    assert reverse("events:unregister", args=[event.pk]) not in page
    assert "已过取消截止时间，如需取消请联系主办单位。" in page


def test_before_the_cancel_deadline_the_page_says_until_when(client):
    event = make_event(starts_at=timezone.now() + timedelta(days=3))
    guardian = GuardianFactory()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    client.force_login(guardian.user)

    page = _page(client, event)
    assert reverse("events:unregister", args=[event.pk]) in page
    deadline = event.offering.starts_at - timedelta(hours=2)
    assert f"可在 {when_label(deadline)} 前取消。" in page
