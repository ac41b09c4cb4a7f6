"""Moving an event: one "time changed" notice and reminders at the new time.
Cancelling one: one cancellation notice and no more reminders."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_create
from events.models import Delivery
from events.reminders import reminder_pass_run
from events.services import event_cancel, event_update
from events.tests import worker_fixtures
from events.tests.factories import make_event
from events.tests.worker_fixtures import decoded
from members.tests.factories import GuardianFactory
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _registered_event(start, families=3):
    event = make_event(starts_at=start)
    guardians = [GuardianFactory() for _ in range(families)]
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
    return event, guardians


def _receipts_delivered(smtp_server, event, guardians):
    """Each family's booking receipt arrives once; then the collector is emptied,
    so that what follows counts only the messages about the change."""
    wait_for(lambda: len(smtp_server.messages) >= len(guardians), timeout=60)
    wait_for(lambda: _settled(event), timeout=60)
    assert sorted(str(m["To"]) for m in smtp_server.messages) == sorted(
        g.user.email for g in guardians
    )
    assert all(decoded(m)[0].startswith("报名成功") for m in smtp_server.messages)
    smtp_server.messages.clear()


def _settled(event):
    return not Delivery.objects.filter(
        offering_id=event.offering_id, status__in=["pending", "claimed"]
    ).exists()


def test_moving_an_event_sends_one_notice_and_reminders_follow_the_new_time(
    reminder_worker, smtp_server
):
    # given an event in three days with three registered families
    now = timezone.now().replace(second=0, microsecond=0)
    old_start = now + datetime.timedelta(days=3)
    event, guardians = _registered_event(old_start)
    _receipts_delivered(smtp_server, event, guardians)

    # when the coordinator moves it two days later
    new_start = now + datetime.timedelta(days=5, hours=1)
    event_update(
        event_id=event.pk,
        updated_by=None,
        starts_at=new_start,
        ends_at=new_start + datetime.timedelta(hours=2),
    )
    call_command("send_due_reminders")

    # then each family gets one "time changed" email with the new Shanghai time
    wait_for(lambda: len(smtp_server.messages) >= 3, timeout=60)
    wait_for(lambda: _settled(event), timeout=60)
    local = new_start.astimezone(SHANGHAI)
    for subject, text in (decoded(m) for m in smtp_server.messages):
        assert subject.startswith("【时间变更】") and "北京时间" in text
        assert f"{local.month}月{local.day}日" in subject and f"{local:%H:%M}" in subject
    assert sorted(str(m["To"]) for m in smtp_server.messages) == sorted(
        g.user.email for g in guardians
    )
    assert reminder_pass_run().claimed == 0

    # when the old reminder moment comes, nothing is sent
    at_old_moment = reminder_pass_run(now=old_start - datetime.timedelta(hours=24, minutes=-1))
    assert (at_old_moment.planned, at_old_moment.claimed) == (0, 0)

    # when the new reminder moment comes, each family is reminded once, of the new time
    at_new_moment = reminder_pass_run(now=new_start - datetime.timedelta(hours=24, minutes=-1))
    assert at_new_moment.planned == 6  # email + in-site for three guardians
    wait_for(lambda: len(smtp_server.messages) >= 6, timeout=60)
    wait_for(lambda: _settled(event), timeout=60)
    reminders = [decoded(m) for m in smtp_server.messages[3:]]
    assert all(s.startswith("【提醒】") and f"{local:%H:%M}" in s for s, _t in reminders)
    assert len(smtp_server.messages) == 6


def test_cancelling_an_event_sends_one_notice_and_no_more_reminders(reminder_worker, smtp_server):
    # given an event in two days with three registered families
    start = timezone.now().replace(second=0, microsecond=0) + datetime.timedelta(days=2)
    event, guardians = _registered_event(start)
    _receipts_delivered(smtp_server, event, guardians)

    # when the coordinator cancels it and the beat runs (twice)
    event_cancel(event_id=event.pk, cancelled_by=None, reason="场地检修")
    call_command("send_due_reminders")
    wait_for(lambda: len(smtp_server.messages) >= 3, timeout=60)
    wait_for(lambda: _settled(event), timeout=60)
    assert reminder_pass_run().claimed == 0

    # then each family got exactly one cancellation email
    subjects = [decoded(m)[0] for m in smtp_server.messages]
    assert len(subjects) == 3 and all(s.startswith("【活动取消】") for s in subjects)
    assert {g.user.notifications.filter(kind="events.cancelled").count() for g in guardians} == {1}

    # and when the reminder moments come, nothing is planned or sent
    for hours in (24, 2):
        moment = reminder_pass_run(now=start - datetime.timedelta(hours=hours, minutes=-1))
        assert (moment.planned, moment.claimed) == (0, 0)
    assert not Delivery.objects.filter(offering_id=event.offering_id, purpose="reminder").exists()
    assert len(smtp_server.messages) == 3
