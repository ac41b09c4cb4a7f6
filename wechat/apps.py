from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeChatConfig(AppConfig):
    name = "wechat"
    verbose_name = _("微信小程序")
    default_auto_field = "django.db.models.BigAutoField"
