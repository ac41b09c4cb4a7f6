from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("成员单位与家庭")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Disabling an account ends its sessions, however it is disabled.
        from . import receivers  # noqa: F401
        from .registry import role_groups_sync_after_migrate

        # Role groups get new permissions on every migrate (members/registry.py).
        post_migrate.connect(
            role_groups_sync_after_migrate, dispatch_uid="members.role_groups_sync"
        )
