"""Writes for the notification inbox."""

from __future__ import annotations

import datetime

from django.utils import timezone

from .models import Notification, NotificationPreference


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


def notification_preference_update(
    *,
    user,
    by_email: bool,
    in_site: bool,
    by_sms: bool,
    quiet_start: datetime.time,
    quiet_end: datetime.time,
) -> NotificationPreference:
    """Save the person's own choice; from now on it is what the outbox follows
    (see notifications.selectors.notification_preference_for)."""
    preference, _created = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={
            "by_email": by_email,
            "in_site": in_site,
            "by_sms": by_sms,
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
        },
    )
    return preference


def notification_preference_reset(*, user) -> None:
    """Forget the saved choice: the channels follow the person's contacts again
    (notifications.selectors.notification_defaults_for)."""
    NotificationPreference.objects.filter(user=user).delete()


def notifications_create_many(*, notices: list[dict]) -> int:
    """Many notices in bulk (the outbox's in-site batch): one ``INSERT`` per
    1,000; each dict has ``user_id``, ``title`` and optionally ``body``, ``url``,
    ``kind``. Returns how many were written."""
    if not notices:
        return 0
    created = Notification.objects.bulk_create(
        [Notification(**notice) for notice in notices], batch_size=1000
    )
    return len(created)
