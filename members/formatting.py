"""How the portal writes times, dates and durations for people (one rule for pages, SMS and mail).

Parents read 「12月3日 周三 18:00」 and 「15 分钟」, always in Asia/Shanghai whatever
the server's zone; the year is added only when it is not the current one.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _weekday(day: datetime.date) -> str:
    names = [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")]
    return names[day.weekday()]


def local(when: datetime.datetime) -> datetime.datetime:
    return when.astimezone(SHANGHAI)


def _today() -> datetime.date:
    return timezone.now().astimezone(SHANGHAI).date()


def date_label(day: datetime.date | datetime.datetime, *, with_year: bool | None = None) -> str:
    """``12月3日 周三``; ``2027年1月5日 周二`` outside the current year (or when asked)."""
    if isinstance(day, datetime.datetime):
        day = local(day).date()
    if with_year is None:
        with_year = day.year != _today().year
    values = {"year": day.year, "month": day.month, "day": day.day, "weekday": _weekday(day)}
    if with_year:
        return _("%(year)s年%(month)s月%(day)s日 %(weekday)s") % values
    return _("%(month)s月%(day)s日 %(weekday)s") % values


def when_label(when: datetime.datetime, *, with_year: bool | None = None) -> str:
    """``12月3日 周三 18:00`` in Asia/Shanghai."""
    moment = local(when)
    return f"{date_label(moment.date(), with_year=with_year)} {moment:%H:%M}"


def duration_label(seconds: int | None) -> str:
    """``15 分钟``, ``1 小时 5 分钟``; whole minutes, rounded up, never 0 for a real video."""
    if not seconds:
        return ""
    minutes = max(1, -(-int(seconds) // 60))
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(ngettext("%(count)d 小时", "%(count)d 小时", hours) % {"count": hours})
    if minutes:
        parts.append(ngettext("%(count)d 分钟", "%(count)d 分钟", minutes) % {"count": minutes})
    return " ".join(parts)


def id_or_none(value) -> int | None:
    """An id from a form, URL or JSON value: a positive integer that fits a bigint,
    or None (so a foreign, empty, negative or absurd id is "missing", never a
    database error)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None
