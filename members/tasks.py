"""Celery tasks for the members app: thin wrappers that take ids and call services."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from . import services
from .sms import SMSDeliveryError


@shared_task(bind=True, acks_late=True, max_retries=6)
def family_invitation_send(self, invitation_id: int, base_url: str) -> bool:
    """Send a co-guardian invitation by SMS or email. Idempotent, so acks_late is safe."""
    try:
        return services.family_invitation_send(invitation_id=invitation_id, base_url=base_url)
    except (SMSDeliveryError, SMTPException, OSError) as exc:
        # Back off 30 s, 60 s, 120 s … up to 30 min between attempts.
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from exc
