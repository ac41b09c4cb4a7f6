"""Reads for the notification inbox and for how each person is told (channels,
quiet hours): the defaults rule lives here, for the outbox and the page alike."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from members.privacy import mask_phone

from .models import Notification, NotificationPreference


def notification_unread_count(*, user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_list_for_user(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


SHANGHAI = ZoneInfo("Asia/Shanghai")

DEFAULT_QUIET_START = datetime.time(22, 0)
DEFAULT_QUIET_END = datetime.time(7, 0)


def _has_verified_phone(user) -> bool:
    return bool(getattr(user, "phone", "") and getattr(user, "phone_verified", False))


# Whether a person can be reached by WeChat subscription messages (has signed in
# through the mini-program) is known above this app (wechat): the app that can
# tell registers a check here (events/receivers.py), as bookings' listeners do.
_wechat_reach_checks: list = []


def wechat_reach_register(check) -> None:
    """``check(user) -> bool``: does ``user`` have a WeChat identity? (Registered once.)"""
    if check not in _wechat_reach_checks:
        _wechat_reach_checks.append(check)


def notification_wechat_reachable(*, user) -> bool:
    """Can WeChat subscription messages reach ``user`` at all?"""
    if not getattr(user, "pk", None):
        return False
    return any(check(user) for check in _wechat_reach_checks)


def notification_defaults_for(*, user) -> dict:
    """The one rule for how a person is told before they choose: the channels
    follow what they have.

    - the portal's inbox, always;
    - email when there is an address;
    - WeChat subscription messages once they have signed in through the
      mini-program (``by_wechat``); a message WeChat cannot carry (no
      acceptance left, refused) falls back to SMS, else the inbox;
    - SMS when there is a verified mobile number and neither an email address
      nor WeChat (a parent who signed up with her phone is reached on it),
      never 22:00–07:00 (Asia/Shanghai).

    Used by the outbox (through :func:`notification_preference_for`) and by the
    preferences page, which shows these as ticked until the person saves.
    """
    has_email = bool(getattr(user, "email", ""))
    has_wechat = notification_wechat_reachable(user=user)
    return {
        "in_site": True,
        "by_email": has_email,
        "by_sms": _has_verified_phone(user) and not has_email and not has_wechat,
        "by_wechat": has_wechat,
        "quiet_start": DEFAULT_QUIET_START,
        "quiet_end": DEFAULT_QUIET_END,
    }


def notification_preference_for(*, user) -> NotificationPreference:
    """What applies to ``user``: their saved choice, else the defaults of
    :func:`notification_defaults_for` (unsaved).

    A row exists only once the person saved the preferences page: until then
    the channels follow their contacts as they are now (a phone verified or an
    email added later counts at once, with no row to keep up to date).
    """
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user, **notification_defaults_for(user=user))


def notification_preference_is_saved(*, user) -> bool:
    """Has the person saved a choice? (An unsaved default built by
    :func:`notification_preference_for` sits in the same cache, without a pk.)"""
    try:
        return user.notification_preference.pk is not None
    except NotificationPreference.DoesNotExist:
        return False


def notification_sms_phone(*, user, guardian=None) -> str:
    """The number texts go to: the verified account number, else the contact
    number the guardian gave for the family, else the account number."""
    if _has_verified_phone(user):
        return user.phone
    if guardian is None:
        guardian = getattr(user, "guardian", None) if user.pk else None
    return (getattr(guardian, "phone", "") or "") or (user.phone or "")


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


# --- the preferences page ----------------------------------------------------------


@dataclass(frozen=True)
class ChannelLine:
    """One channel as the preferences page explains it (what it brings, where to)."""

    field: str
    available: bool
    description: str
    action_label: str = ""
    action_url: str = ""


def _clock(value: datetime.time) -> str:
    return f"{value.hour}:{value.minute:02d}"


def _quiet_hours_text(preference: NotificationPreference) -> str:
    start, end = preference.quiet_start, preference.quiet_end
    if start is None or end is None or start == end:
        return _("不设免打扰时段")
    values = {"start": _clock(start), "end": _clock(end)}
    if start > end:  # the usual case: across midnight
        return _("晚上 %(start)s 到早上 %(end)s 不发，到 %(end)s 再发") % values
    return _("%(start)s 到 %(end)s 不发，到 %(end)s 再发") % values


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def notification_channel_lines(*, user, preference: NotificationPreference) -> list[ChannelLine]:
    """What each channel brings this person, in plain words, and whether it can
    reach them at all (no address: the channel is shown off, with how to add one)."""
    what = _("开课前提醒、时间变更、取消、候补转正和报名回执")
    lines = [
        ChannelLine(
            field="in_site",
            available=True,
            description=_("站内通知：%(what)s，都在本站的「通知」里，随时可以查看。")
            % {"what": what},
        )
    ]
    if user.email:
        lines.append(
            ChannelLine(
                field="by_email",
                available=True,
                description=_(
                    "邮件：%(what)s，发到 %(email)s；提醒邮件附有日历文件，可加入手机日历。"
                )
                % {"what": what, "email": user.email},
            )
        )
    else:
        lines.append(
            ChannelLine(
                field="by_email",
                available=False,
                description=_("您还没有登记邮箱，所以不会收到邮件。"),
                action_label=_("添加邮箱"),
                action_url=_url("account_email"),
            )
        )
    if notification_wechat_reachable(user=user):
        # Only for someone who signed in through the mini-program.
        lines.append(
            ChannelLine(
                field="by_wechat",
                available=True,
                description=_(
                    "微信订阅消息：%(what)s，在微信的「服务通知」里收到。您在小程序里每同意一次订阅，"
                    "我们才能发一条；次数用完或您拒收时，改发短信（没有手机号就发站内通知）。"
                )
                % {"what": what},
            )
        )
    phone = notification_sms_phone(user=user)
    if phone:
        description = _("短信：%(what)s，发到 %(phone)s；%(quiet)s。") % {
            "what": what,
            "phone": mask_phone(phone),
            "quiet": _quiet_hours_text(preference),
        }
        verified = _has_verified_phone(user)
        if not verified:
            description += _("这个号码是您填写的联系电话，还没有用验证码验证过。")
        lines.append(
            ChannelLine(
                field="by_sms",
                available=True,
                description=description,
                action_label="" if verified else _("验证手机号"),
                action_url="" if verified else _url("account_change_phone"),
            )
        )
    else:
        lines.append(
            ChannelLine(
                field="by_sms",
                available=False,
                description=_("您还没有验证手机号，所以不会收到短信。"),
                action_label=_("验证手机号"),
                action_url=_url("account_change_phone"),
            )
        )
    return lines
