from django import template

from members.privacy import mask_phone as _mask_phone

from ..selectors import local_time_label

register = template.Library()


@register.filter
def mask_phone(value) -> str:
    """138****1234: rosters and logs never show a full phone number."""
    return _mask_phone(value or "")


@register.filter
def local_when(value) -> str:
    """A moment in Asia/Shanghai, with the weekday: 11月26日 周四 14:30."""
    return local_time_label(value) if value else ""
