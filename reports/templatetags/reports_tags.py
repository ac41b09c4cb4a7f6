from django import template

from members import access

register = template.Library()


@register.filter
def is_coordinator(user) -> bool:
    """For the navigation: the dashboard link is shown to coordinators only."""
    return access.is_coordinator(user)


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value}%"
