"""Reads for the notification inbox."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from .models import Notification, NotificationPreference


def notification_unread_count(*, user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_list_for_user(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


SHANGHAI = ZoneInfo("Asia/Shanghai")


def notification_preference_for(*, user) -> NotificationPreference:
    """The user's saved preference, or the defaults (email + in-site, no SMS) unsaved."""
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user)


def in_quiet_hours(*, preference: NotificationPreference, when: datetime.datetime) -> bool:
    start, end = preference.quiet_start, preference.quiet_end
    if start == end:
        return False
    local = when.astimezone(SHANGHAI).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the quiet hours cross midnight


def sms_allowed_from(
    *, preference: NotificationPreference, when: datetime.datetime
) -> datetime.datetime:
    """The first moment at or after ``when`` outside the guardian's SMS quiet hours."""
    if not in_quiet_hours(preference=preference, when=when):
        return when
    local = when.astimezone(SHANGHAI)
    end = local.replace(
        hour=preference.quiet_end.hour,
        minute=preference.quiet_end.minute,
        second=0,
        microsecond=0,
    )
    if end <= local:
        end += datetime.timedelta(days=1)
    return end.astimezone(datetime.UTC)
