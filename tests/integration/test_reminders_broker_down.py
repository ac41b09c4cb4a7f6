"""With the broker unreachable a registration still succeeds; its notice goes out once it is back."""

import datetime
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app
from bookings.models import Booking
from events.models import Delivery
from events.tests import worker_fixtures
from events.tests.factories import make_event
from events.tests.worker_fixtures import decoded
from members.tests.factories import GuardianFactory
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker


@contextmanager
def broker_down():
    """Point this (web) process at a port where no Redis listens, then restore.

    The shared Redis keeps running for the worker and for other test runs."""
    saved = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url = saved
        app._pool = None
        app.amqp._producer_pool = None


def test_registration_succeeds_without_broker_and_its_notice_goes_out_later(
    reminder_worker, smtp_server, client
):
    # given a published event and a signed-in parent
    event = make_event(starts_at=timezone.now() + datetime.timedelta(days=3))
    guardian = GuardianFactory()
    client.force_login(guardian.user)

    # when the parent registers while the broker cannot be reached
    with broker_down():
        response = client.post(
            reverse("events:register", args=[event.pk]), {"guardians": [guardian.pk]}
        )

        # then the registration succeeds, and its notice waits in the database
        assert response.status_code == 302
        assert Booking.objects.get(family=guardian.family).status == Booking.Status.CONFIRMED
        notices = Delivery.objects.filter(user=guardian.user, purpose="confirmation")
        assert set(notices.values_list("channel", "status")) == {
            ("email", "pending"),
            ("inbox", "pending"),
        }

    # when the broker is back and the beat pass runs
    call_command("send_due_reminders")

    # then the notice arrives, once
    wait_for(lambda: len(smtp_server.messages) >= 1, timeout=60)
    wait_for(lambda: not notices.exclude(status="sent").exists(), timeout=60)
    subject, text = decoded(smtp_server.messages[0])
    assert subject.startswith("报名成功") and event.title in subject
    assert guardian.user.notifications.filter(kind="events.confirmation").count() == 1
    assert reminder_worker_pass_claims_nothing()
    assert len(smtp_server.messages) == 1


def reminder_worker_pass_claims_nothing() -> bool:
    from events.reminders import reminder_pass_run

    return reminder_pass_run().claimed == 0
