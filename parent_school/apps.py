from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParentSchoolConfig(AppConfig):
    name = "parent_school"
    verbose_name = _("家长学校")
