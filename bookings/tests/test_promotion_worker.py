"""A promotion told through the outbox: the real Redis broker, a real worker and
a real SMTP server."""

from collections import Counter
from email.header import decode_header, make_header

import pytest
from django.db import transaction

from bookings import services
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory
from events.models import Delivery
from notifications.models import Notification
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker


@pytest.fixture
def worker_mails_to_smtp(smtp_server, monkeypatch):
    """Point the worker process (started after this fixture) at the aiosmtpd server."""
    monkeypatch.setenv("TEST_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(smtp_server.port))
    return smtp_server


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_a_promoted_family_is_told_by_email_and_notification(
    worker_mails_to_smtp, celery_worker_process
):
    # given a full offering with one waiting family, committed for the worker to see
    offering = OfferingFactory(capacity=1, title="心理健康讲座")
    fam_a, g_a, _ = make_family()
    fam_b, g_b, _ = make_family()
    a = services.booking_create(
        offering_id=offering.pk, family=fam_a, booked_by=None, guardian_ids=[g_a[0].pk]
    )
    waiting = services.booking_create(
        offering_id=offering.pk, family=fam_b, booked_by=None, guardian_ids=[g_b[0].pk]
    )

    # and both receipts have gone out
    wait_for(lambda: Delivery.objects.filter(status="sent").count() == 4, timeout=60)

    # when A cancels in a committed transaction
    with transaction.atomic():
        services.booking_cancel(booking_id=a.pk, family=fam_a, cancelled_by=g_a[0].user)

    # then the worker tells B: one email through SMTP, one in-site notification
    promoted = Delivery.objects.filter(booking=waiting, purpose="promoted")
    wait_for(lambda: promoted.count() == 2 and not promoted.exclude(status="sent").exists())
    messages = worker_mails_to_smtp.messages
    # two receipts, A's withdrawal receipt and B's promotion notice
    wait_for(lambda: len(messages) >= 4, timeout=30)
    told = Counter((m["To"], _subject(m).split("：")[0]) for m in messages)
    assert told == {
        (g_a[0].user.email, "报名成功"): 1,
        (g_b[0].user.email, "已进入候补"): 1,
        (g_a[0].user.email, "已取消报名"): 1,
        (g_b[0].user.email, "候补转正"): 1,
    }
    assert "心理健康讲座" in _subject(next(m for m in messages if "候补转正" in _subject(m)))
    assert Notification.objects.filter(user=g_b[0].user, kind="events.promoted").count() == 1
    assert len(messages) == 4
