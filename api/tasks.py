"""Beat enqueues, workers work: the API's housekeeping."""

import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import IdempotentRequest


@shared_task(name="api.tasks.idempotency_purge")
def idempotency_purge() -> int:
    """Forget Idempotency-Key answers older than API_IDEMPOTENCY_HOURS."""
    cutoff = timezone.now() - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
