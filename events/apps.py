from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("活动")

    def ready(self):
        # The outbox's receivers (receipts, withdrawal receipts, promotion
        # notices and late reminders, invitations) connect on import.
        from bookings import services

        from . import receivers  # noqa: F401
        from .reminders import offering_changed

        # Course sessions and events cancelled or moved: notices and reminders follow.
        if offering_changed not in services.offering_change_listeners:
            services.offering_change_listeners.append(offering_changed)
