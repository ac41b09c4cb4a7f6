from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("活动")

    def ready(self):
        # A family promoted from the waiting list after a reminder's moment gets
        # that reminder at once, marked late (events/reminders.py).
        from bookings import services

        from .reminders import course_session_changed, reminders_for_promoted

        if reminders_for_promoted not in services.promotion_listeners:
            services.promotion_listeners.append(reminders_for_promoted)
        # Course sessions cancelled or moved: notices and reminders follow.
        if course_session_changed not in services.offering_change_listeners:
            services.offering_change_listeners.append(course_session_changed)
