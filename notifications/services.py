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
    by_wechat: bool | None = None,
) -> NotificationPreference:
    """Save the person's own choice; from now on it is what the outbox follows
    (see notifications.selectors.notification_preference_for).

    ``by_wechat`` None (the page shows no WeChat choice to someone who never
    signed in through the mini-program): kept as it is, on for a new row."""
    defaults = {
        "by_email": by_email,
        "in_site": in_site,
        "by_sms": by_sms,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
    }
    if by_wechat is not None:
        defaults["by_wechat"] = by_wechat
    preference, _created = NotificationPreference.objects.update_or_create(
        user=user, defaults=defaults
    )
    return preference


def notification_wechat_off(*, user) -> bool:
    """The person refused WeChat subscription messages (a "reject" in the
    mini-program, or WeChat's 43101 on a send; wechat.services calls this): the
    outbox stops planning WeChat rows for them. Without a saved choice the
    current defaults are saved with WeChat off (a refusal must be remembered).
    Returns True if something changed."""
    from .selectors import notification_defaults_for

    changed = NotificationPreference.objects.filter(user=user, by_wechat=True).update(
        by_wechat=False
    )
    if changed:
        _forget_cached(user)
        return True
    if NotificationPreference.objects.filter(user=user).exists():
        return False
    _preference, created = NotificationPreference.objects.get_or_create(
        user=user, defaults={**notification_defaults_for(user=user), "by_wechat": False}
    )
    _forget_cached(user)
    return created


def _forget_cached(user) -> None:
    # The one-to-one preference (or an unsaved default) may be cached on the user.
    state = getattr(user, "_state", None)
    if state is not None:
        state.fields_cache.pop("notification_preference", None)


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
