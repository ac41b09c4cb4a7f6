from functools import cache

from django.conf import settings

from members import access
from notifications.selectors import notification_unread_count

# The four tabs of the layout (templates/base.html). Each page belongs to one,
# by its URL namespace; staff pages and the family's own pages sit under 我的,
# where their links are (templates/portal/mine.html).
TAB_HOME, TAB_COURSES, TAB_EVENTS, TAB_MINE = "home", "courses", "events", "mine"
_PUBLIC_COURSE_PAGES = {"catalogue", "detail", "lesson", "lessons", "checkin"}
_PUBLIC_EVENT_PAGES = {"list", "detail", "self_checkin", "register", "unregister"}


def nav_tab(resolver_match) -> str:
    """Which tab a page belongs to ('' for pages outside the tabs, e.g. the admin)."""
    if resolver_match is None:
        return ""
    namespace, name = resolver_match.namespace, resolver_match.url_name
    if namespace == "portal":
        return TAB_HOME if name == "home" else TAB_MINE
    if namespace == "parent_school" or (namespace == "courses" and name in _PUBLIC_COURSE_PAGES):
        return TAB_COURSES
    if namespace == "events" and name in _PUBLIC_EVENT_PAGES:
        return TAB_EVENTS
    if namespace in (
        "community",
        "courses",
        "evaluation",
        "events",
        "groups",
        "guidance",
        "handbook",
        "members",
        "notifications",
        "recognition",
        "reports",
        "surveys",
        "volunteers",
    ):
        return TAB_MINE
    if (name or "").startswith("account_"):  # allauth's sign-in and account pages
        return TAB_MINE
    return ""


def portal(request):
    """What the base layout needs on every page: the portal name, the user's reach,
    the active tab. Lazy and computed once per page: a count or role looked up only
    when a template shows it, however many times it does."""
    user = getattr(request, "user", None)

    @cache
    def unread():
        return notification_unread_count(user=user) if user is not None else 0

    @cache
    def is_staff_member():
        return bool(user is not None and access.is_staff_member(user))

    return {
        "PORTAL_NAME": settings.PORTAL_NAME,
        "unread_notifications": unread,
        "user_is_staff_member": is_staff_member,
        "nav_tab": nav_tab(getattr(request, "resolver_match", None)),
    }
