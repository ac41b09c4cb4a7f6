"""Template filters for the one way the portal writes times, durations and phones.

``{% load portal_format %}`` then ``{{ session.starts_at|when }}`` → 12月3日 周三 18:00,
``{{ day|day }}`` → 12月3日 周三, ``{{ lesson.duration_seconds|duration }}`` → 15 分钟,
``{{ phone|masked_phone }}`` → 138****1234.
"""

from django import template

from members import formatting
from members.privacy import mask_phone

register = template.Library()


@register.filter
def when(value) -> str:
    return formatting.when_label(value) if value else ""


@register.filter
def day(value) -> str:
    return formatting.date_label(value) if value else ""


@register.filter
def duration(value) -> str:
    return formatting.duration_label(value)


@register.filter
def masked_phone(value) -> str:
    return mask_phone(value or "")
