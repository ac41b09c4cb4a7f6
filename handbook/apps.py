from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandbookConfig(AppConfig):
    name = "handbook"
    verbose_name = _("智慧家长成长手册")

    def ready(self) -> None:
        # Attendance marks queue proposals of at-school claims (handbook/receivers.py).
        from . import receivers  # noqa: F401
