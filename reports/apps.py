from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("统计报表")

    def ready(self):
        # Changes that the figures count mark their snapshot keys (incremental roll-up).
        from . import receivers  # noqa: F401
