"""Writes for the notification inbox."""

from __future__ import annotations

from django.utils import timezone

from .models import Notification


def notification_create(
    *, user, title: str, body: str = "", url: str = "", kind: str = ""
) -> Notification:
    return Notification.objects.create(user=user, title=title, body=body, url=url, kind=kind)


def notification_mark_read(*, user, notification_id: int | None = None) -> int:
    """Mark one notification (or all of the user's) read; returns how many changed."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
