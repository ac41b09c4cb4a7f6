from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = _("问卷调查")

    def ready(self) -> None:
        from events.notices import notice_check_register

        from .selectors import survey_notice_check

        # Nobody who answered (or whose survey closed) is invited or reminded.
        notice_check_register("surveys.invite", survey_notice_check)
        notice_check_register("surveys.remind", survey_notice_check)

        from groups.panels import panel_register

        from .selectors import group_survey_panel

        # The group page lists the group's questionnaires (issue 16).
        panel_register("surveys", group_survey_panel)
