from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationPreference


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
        for name, line in self.lines.items():
            field = self.fields[name]
            field.help_text = line.description
            if not line.available:
                # Disabled: the browser sends nothing and Django keeps the initial value.
                field.disabled = True
                self.initial[name] = False

    def channel_rows(self):
        """(bound field, line) for each channel, in the page's order."""
        return [(self[name], self.lines.get(name)) for name in ("in_site", "by_email", "by_sms")]
