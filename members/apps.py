from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("成员单位与家庭")

    def ready(self) -> None:
        # Disabling an account ends its sessions, however it is disabled.
        from . import receivers  # noqa: F401
