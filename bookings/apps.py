from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = _("报名与名额")

    def ready(self):
        # Promoted families (course sessions and events alike) are told by a
        # Celery task queued after the commit. Registered once, here.
        from . import receivers, services, tasks  # noqa: F401  (receivers connect on import)

        if tasks.queue_promotion_notices not in services.promotion_listeners:
            services.promotion_listeners.append(tasks.queue_promotion_notices)
