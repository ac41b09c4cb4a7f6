from django.conf import settings

from members import access
from notifications.selectors import notification_unread_count


def portal(request):
    """What the base layout needs on every page: the portal name, the user's reach."""
    user = getattr(request, "user", None)

    def unread():
        # Lazy: only costs a query on pages that render the header badge.
        return notification_unread_count(user=user) if user is not None else 0

    return {
        "PORTAL_NAME": settings.PORTAL_NAME,
        "unread_notifications": unread,
        "user_is_staff_member": (lambda: access.is_staff_member(user)) if user else False,
    }
