from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GuidanceConfig(AppConfig):
    name = "guidance"
    verbose_name = _("成长指导工作站")

    def ready(self) -> None:
        # A consultation follows its booking (cancelled, promoted) on every path.
        from . import receivers  # noqa: F401
