"""Subscription-message values within WeChat's limits (订阅消息参数值内容限制).

WeChat refuses a whole message (47003) when one value breaks its kind's rule:
``thing`` at most 20 characters, ``phrase`` at most 5 Chinese characters,
``time`` a 24-hour time with an optional date ("2026年03月01日 15:01"), and so
on. The portal's texts are longer than that, so each value is shortened or
reformatted here before the send, instead of losing the message.
"""

from __future__ import annotations

import datetime
import re

from django.utils import timezone

# kind → at most this many characters (WeChat's table).
MAX_CHARS = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "amount": 12,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,
    "phrase": 5,
}
_KIND = re.compile(r"^([a-z_]+?)\d+$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_NOT_DIGITS = re.compile(r"[^0-9.]")
_NOT_ASCII_WORD = re.compile(r"[^0-9A-Za-z_\-.#@/:+]")
_FORMATTED_TIME = re.compile(r"^\d{4}年\d{2}月\d{2}日( \d{2}:\d{2})?$")


def key_kind(key: str) -> str:
    """``thing12`` → ``thing``; ``character_string3`` → ``character_string``."""
    match = _KIND.match(key)
    if not match:
        raise ValueError(f"not a WeChat template key: {key!r}")
    return match.group(1)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _moment(value: str) -> datetime.datetime | datetime.date:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return datetime.date.fromisoformat(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment


def format_time(value: str) -> str:
    """ISO 8601 → "YYYY年MM月DD日 HH:mm" in the portal's time zone."""
    if _FORMATTED_TIME.match(value):
        return value
    moment = _moment(value)
    if not isinstance(moment, datetime.datetime):
        return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日"
    return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日 {moment:%H:%M}"


def format_date(value: str) -> str:
    if _FORMATTED_TIME.match(value):
        return value.split(" ")[0]
    moment = _moment(value)
    return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日"


def wechat_value(key: str, value: str) -> str:
    """``value`` as template key ``key`` accepts it; ValueError if it cannot be."""
    kind = key_kind(key)
    value = str(value or "").strip()
    if kind == "time":
        return format_time(value)
    if kind == "date":
        return format_date(value)
    if kind == "phrase":
        # Only Chinese characters (no digits, letters or punctuation).
        value = "".join(_HAN.findall(value))[: MAX_CHARS["phrase"]]
    elif kind in ("number", "amount"):
        value = _NOT_DIGITS.sub("", value)[: MAX_CHARS[kind]]
    elif kind in ("character_string", "letter"):
        value = _NOT_ASCII_WORD.sub("", value)[: MAX_CHARS[kind]]
    elif kind in MAX_CHARS:
        value = _shorten(value, MAX_CHARS[kind])
    if not value:
        # WeChat refuses empty values; 「无」 reads as "nothing to say".
        if kind in ("thing", "name", "phrase"):
            return "无"
        raise ValueError(f"no value for {key}")
    return value


def template_data(field_map: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """The ``data`` of one message: each template key filled from the named value."""
    return {key: wechat_value(key, values.get(name, "")) for key, name in field_map.items()}
