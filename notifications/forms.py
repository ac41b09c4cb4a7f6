from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationPreference

# Sent by the preferences page with the WeChat box: "the person saw it" (see below).
WECHAT_SHOWN = "by_wechat_shown"


class PreferenceForm(forms.ModelForm):
    """The guardian's channels and SMS quiet hours.

    ``lines`` (notifications.selectors.notification_channel_lines) say what each
    channel brings; a channel that cannot reach the person (no email address, no
    phone) is shown unticked and disabled, and saving stores it off.
    """

    class Meta:
        model = NotificationPreference
        fields = ["in_site", "by_email", "by_sms", "quiet_start", "quiet_end"]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        labels = {"in_site": _("站内通知"), "by_email": _("邮件"), "by_sms": _("短信")}
        help_texts = {
            "quiet_end": _("免打扰时段内不发短信，改在结束时发出；若活动届时已开始则不再发送。"),
        }

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = {line.field: line for line in lines}
        if "by_wechat" in self.lines and (not self.is_bound or self.data.get(WECHAT_SHOWN)):
            # Only someone who signed in through the mini-program is asked about
            # WeChat; for everyone else the saved value stays as it is. An
            # unticked box sends nothing, so the page also sends WECHAT_SHOWN:
            # data without it (a client that does not offer the box) keeps the
            # saved value rather than turning WeChat off.
            self.fields["by_wechat"] = forms.BooleanField(
                label=_("微信订阅消息"),
                required=False,
                initial=self.instance.by_wechat,
            )
        for name, line in self.lines.items():
            if name not in self.fields:
                continue
            field = self.fields[name]
            field.help_text = line.description
            if not line.available:
                # Disabled: the browser sends nothing and Django keeps the initial value.
                field.disabled = True
                self.initial[name] = False

    @property
    def offers_wechat(self) -> bool:
        return "by_wechat" in self.fields

    def channel_rows(self):
        """(bound field, line) for each channel, in the page's order."""
        names = ("in_site", "by_wechat", "by_email", "by_sms")
        return [(self[name], self.lines.get(name)) for name in names if name in self.fields]
