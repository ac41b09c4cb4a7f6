"""A worker killed with SIGKILL in the middle of a batch loses nothing and sends nothing twice."""

import datetime
import os
from collections import Counter
from email import message_from_bytes, policy

import pytest
from django.utils import timezone

from events.models import Delivery
from events.reminders import reminder_pass_run
from events.tests import worker_fixtures
from events.tests.factories import bulk_registered_families, make_event
from notifications.models import NotificationPreference
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker_gated = worker_fixtures.reminder_worker_gated
gated_smtp_server = worker_fixtures.gated_smtp_server


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_sigkill_mid_batch_then_restart_delivers_all_1000_once(
    reminder_worker_gated, gated_smtp_server, settings
):
    # given 1,000 families, email only, whose 24-hour reminder is due
    worker = reminder_worker_gated
    smtp = gated_smtp_server.handler_state
    starts_at = timezone.now() + datetime.timedelta(hours=24, minutes=-1)
    event = make_event(starts_at=starts_at, capacity=5000)
    guardians = bulk_registered_families(
        event.offering, 1000, confirmed_at=timezone.now() - datetime.timedelta(days=3)
    )
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user_id=g.user_id, in_site=False) for g in guardians]
    )
    # and an SMTP server that, after 300 messages, holds each further message
    # after its final "." — the moment a send is least certain
    smtp.gate_after = 300

    # when one pass hands the 1,000 deliveries to the worker
    first = reminder_pass_run()
    assert first.claimed == 1000
    # and the worker is killed with SIGKILL while both its processes wait on the server
    wait_for(lambda: smtp.waiting >= 2, timeout=180)
    children = _children(worker.pid)
    worker.kill()
    worker.wait(timeout=30)
    wait_for(lambda: all(_gone(pid) for pid in children), timeout=30)
    smtp.opened.set()

    # then the batch was really interrupted
    sent_at_kill = Delivery.objects.filter(status="sent").count()
    assert 300 <= sent_at_kill < 1000
    assert Delivery.objects.filter(status="claimed").exists()

    # when the worker is started again and the beat pass keeps running
    worker.start_worker()
    settings.REMINDER_CLAIM_LEASE_SECONDS = 10  # stranded claims expire quickly here

    def everything_sent():
        reminder_pass_run()
        return Delivery.objects.filter(status="sent").count() == 1000

    try:
        wait_for(everything_sent, timeout=300, interval=2)
    except AssertionError:
        states = Counter(Delivery.objects.values_list("status", flat=True))
        raise AssertionError(
            f"not all sent: {dict(states)}, {len(smtp.messages)} arrived"
        ) from None

    # then all 1,000 arrived, and none arrived twice
    wait_for(lambda: len(smtp.messages) >= 1000, timeout=60)
    recipients = Counter(
        str(message_from_bytes(raw, policy=policy.default)["To"]) for raw in smtp.messages
    )
    assert len(smtp.messages) == 1000
    assert set(recipients) == {g.user.email for g in guardians}
    assert max(recipients.values()) == 1
    assert not Delivery.objects.exclude(status="sent").exists()
