"""One beat pass sends each due reminder exactly once, with the time in Asia/Shanghai."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_create
from events.models import Delivery
from events.reminders import reminder_pass_run
from events.tests import worker_fixtures
from events.tests.factories import make_event
from events.tests.worker_fixtures import decoded
from members.formatting import when_label
from members.tests.factories import GuardianFactory
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker


def test_one_pass_sends_300_reminders_once_with_local_time(reminder_worker, smtp_server):
    # given an event 24 hours away (a minute under) with 300 families who registered last week
    starts_at = (timezone.now() + datetime.timedelta(hours=24, minutes=-1)).replace(
        second=0, microsecond=0
    )
    event = make_event(starts_at=starts_at, capacity=1000)
    guardians = [GuardianFactory() for _ in range(300)]
    for guardian in guardians:
        booking_create(
            offering_id=event.offering_id,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    Booking.objects.filter(offering_id=event.offering_id).update(
        confirmed_at=timezone.now() - datetime.timedelta(days=7)
    )
    # each family got its booking receipt, once, straight after booking
    wait_for(lambda: len(smtp_server.messages) >= 300, timeout=180)
    wait_for(
        lambda: (
            Delivery.objects.filter(
                offering_id=event.offering_id, purpose="confirmation", status="sent"
            ).count()
            == 600
        ),
        timeout=60,
    )
    receipts = [decoded(m)[0] for m in smtp_server.messages]
    assert len(receipts) == 300 and all(s == f"报名成功：{event.title}" for s in receipts)
    assert sorted(str(m["To"]) for m in smtp_server.messages) == sorted(
        g.user.email for g in guardians
    )
    smtp_server.messages.clear()

    # when the beat pass runs once (the management command is that pass)
    call_command("send_due_reminders")

    # then exactly 300 emails arrive, one per family, with the Shanghai time
    wait_for(lambda: len(smtp_server.messages) >= 300, timeout=180)
    wait_for(
        lambda: (
            not Delivery.objects.filter(
                offering_id=event.offering_id, status__in=["pending", "claimed"]
            ).exists()
        ),
        timeout=60,
    )
    local = starts_at.astimezone(ZoneInfo("Asia/Shanghai"))
    expected = when_label(starts_at)  # 12月3日 周三 18:00 (members/formatting.py)
    decoded_messages = [decoded(m) for m in smtp_server.messages]
    assert len(decoded_messages) == 300
    recipients = sorted(str(m["To"]) for m in smtp_server.messages)
    assert recipients == sorted(g.user.email for g in guardians)
    for subject, text in decoded_messages:
        assert expected in subject and f"{local:%H:%M}" in subject
        assert f"{local:%H:%M}" in text and "北京时间" in text
    assert (
        Delivery.objects.filter(
            offering_id=event.offering_id, purpose="reminder", channel="email", status="sent"
        ).count()
        == 300
    )
    assert (
        Delivery.objects.filter(
            offering_id=event.offering_id, purpose="reminder", channel="inbox", status="sent"
        ).count()
        == 300
    )

    # when a second pass runs
    second = reminder_pass_run()

    # then it claims nothing, so nothing more is sent
    assert (second.planned, second.claimed) == (0, 0)
    assert len(smtp_server.messages) == 300
    assert Delivery.objects.filter(offering_id=event.offering_id, purpose="reminder").count() == 600
    assert Delivery.objects.filter(offering_id=event.offering_id).count() == 1200
