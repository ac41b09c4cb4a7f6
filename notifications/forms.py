from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationPreference


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["in_site", "by_email", "by_sms", "quiet_start", "quiet_end"]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "by_sms": _("短信发到您登记的手机号码。"),
            "quiet_end": _("免打扰时段内不发短信，改在结束时发出；若活动届时已开始则不再发送。"),
        }
