"""What the API itself keeps: answers to requests sent with an Idempotency-Key."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotentRequest(models.Model):
    """The answer given to one (caller, key): a retry gets the same answer.

    ``owner`` is ``token:<id>`` or ``user:<id>``; ``fingerprint`` is a hash of
    the method, path and body, so the same key on a different request is
    refused. Rows older than ``API_IDEMPOTENCY_HOURS`` are purged by beat.
    """

    owner = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("幂等请求")
        verbose_name_plural = _("幂等请求")
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="api_idempotency_owner_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
