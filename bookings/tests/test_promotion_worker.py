"""A promotion told through the real Redis broker, a real worker and a real SMTP server."""

import pytest
from django.db import transaction

from bookings import services
from bookings.models import Booking
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory
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

    # when A cancels in a committed transaction
    with transaction.atomic():
        services.booking_cancel(booking_id=a.pk, family=fam_a, cancelled_by=g_a[0].user)

    # then the worker tells B: one email through SMTP, one in-site notification
    wait_for(lambda: Booking.objects.get(pk=waiting.pk).promotion_notified_at, timeout=60)
    wait_for(lambda: len(worker_mails_to_smtp.messages) >= 1, timeout=30)
    message = worker_mails_to_smtp.messages[0]
    assert g_b[0].user.email in message["To"]
    assert Notification.objects.filter(user=g_b[0].user, kind="bookings.promoted").count() == 1
    assert len(worker_mails_to_smtp.messages) == 1
