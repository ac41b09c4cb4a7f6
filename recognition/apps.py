from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = _("学习型家庭与评先树优")

    def ready(self) -> None:
        from events.notices import notice_check_register

        from .selectors import learning_family_notice_check

        # A family is told only while its list is published and it is on it.
        notice_check_register("recognition.learning_family", learning_family_notice_check)
