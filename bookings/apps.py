from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = _("报名与名额")

    def ready(self):
        # Receivers connect on import. Families are told about bookings by the
        # outbox in events/, through the signals declared in bookings/signals.py.
        from . import receivers  # noqa: F401
