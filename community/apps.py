from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = _("互助交流")

    def ready(self) -> None:
        from events.notices import notice_check_register

        from .receivers import community_notice_check, receivers_connect

        # A dissolved group's board is archived in the dissolving transaction.
        receivers_connect()
        # A reply or acceptance notice is not sent once its post is hidden.
        notice_check_register("community", community_notice_check)
