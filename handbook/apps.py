from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandbookConfig(AppConfig):
    name = "handbook"
    verbose_name = _("智慧家长成长手册")

    def ready(self) -> None:
        # Attendance marks queue proposals of at-school claims (handbook/receivers.py).
        from events.notices import notice_check_register

        from . import receivers
        from .selectors import claim_notice_check

        # A rejection or ask-for-more is sent only while it still holds.
        notice_check_register("handbook.claim", claim_notice_check)
        # A deleted claim's photo file goes with it (an account or family deleted).
        receivers.claim_photo_receivers_connect()
