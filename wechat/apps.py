from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class WeChatConfig(AppConfig):
    name = "wechat"
    verbose_name = _("微信小程序")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(wechat_settings_check)


def wechat_settings_check(app_configs=None, **kwargs):
    """The HTTP backend cannot work without the mini-program's AppID and AppSecret:
    say so at start-up rather than at the first parent's sign-in."""
    from django.conf import settings

    if settings.WECHAT_BACKEND != "wechat.client.HttpWeChatClient":
        return []
    missing = [
        name for name in ("WECHAT_APP_ID", "WECHAT_APP_SECRET") if not getattr(settings, name)
    ]
    if not missing:
        return []
    return [
        checks.Error(
            f"{' and '.join(missing)} must be set for wechat.client.HttpWeChatClient",
            hint="See docs/WECHAT.md, Set-up.",
            id="wechat.E001",
        )
    ]
