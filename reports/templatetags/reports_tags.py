from django import template
from django.utils.translation import gettext as _

from members import access

register = template.Library()


@register.filter
def is_coordinator(user) -> bool:
    """For the navigation: the dashboard link is shown to coordinators only."""
    return access.is_coordinator(user)


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value}%"


@register.filter
def duration_minutes(minutes) -> str:
    """A waiting time in words a parent school reads at a glance: minutes under an
    hour, hours under two days, then days ("—" when nothing was measured)."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return _("%(n)s 分钟") % {"n": round(minutes)}
    if minutes < 48 * 60:
        return _("%(n)s 小时") % {"n": f"{minutes / 60:.1f}"}
    return _("%(n)s 天") % {"n": f"{minutes / (24 * 60):.1f}"}
