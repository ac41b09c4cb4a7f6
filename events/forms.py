"""Forms for the coordinator's event pages and the family's registration."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from members import access
from members.models import Alliance, MemberUnit

from .errors import MESSAGES
from .models import Event

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input, read and shown in Asia/Shanghai."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", [DATETIME_FORMAT, "%Y-%m-%d %H:%M"])
        super().__init__(**kwargs)


class EventForm(forms.Form):
    title = forms.CharField(label=_("活动名称"), max_length=120)
    kind = forms.ChoiceField(label=_("类型"), choices=Event.Kind.choices)
    audience = forms.ChoiceField(label=_("对象"), choices=Event.Audience.choices)
    organiser_unit = forms.ModelChoiceField(label=_("承办单位"), queryset=MemberUnit.objects.none())
    organiser_alliance = forms.ModelChoiceField(
        label=_("主办联盟"), queryset=Alliance.objects.none(), required=False
    )
    description = forms.CharField(label=_("活动介绍"), widget=forms.Textarea, required=False)
    venue = forms.CharField(label=_("地点"), max_length=200, required=False)
    online_url = forms.URLField(label=_("线上链接"), required=False, assume_scheme="https")
    starts_at = LocalDateTimeField(label=_("开始时间（北京时间）"))
    ends_at = LocalDateTimeField(label=_("结束时间（北京时间）"))
    capacity = forms.IntegerField(label=_("名额（人）"), min_value=1, max_value=100000)
    booking_opens_at = LocalDateTimeField(label=_("报名开始"), required=False)
    booking_closes_at = LocalDateTimeField(label=_("报名截止"), required=False)
    status = forms.ChoiceField(
        label=_("状态"),
        choices=[(Event.Status.DRAFT, _("草稿")), (Event.Status.PUBLISHED, _("已发布"))],
    )
    reminder_hours = forms.CharField(
        label=_("提醒时间（开始前几小时）"),
        required=False,
        help_text=_("用逗号分隔，例如“24,2”；留空则使用该类型的默认规则（24 小时和 2 小时）。"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organiser_unit"].queryset = (
            access.units_changeable_by(user).filter(is_active=True).order_by("name")
        )
        self.fields["organiser_alliance"].queryset = access.alliances_visible_to(user).order_by(
            "name"
        )

    def clean_reminder_hours(self):
        raw = self.cleaned_data["reminder_hours"].replace("，", ",").strip()
        if not raw:
            return None
        try:
            hours = [float(part) for part in raw.split(",") if part.strip()]
        except ValueError as error:
            raise forms.ValidationError(MESSAGES["bad_offsets"]) from error
        if not hours or any(h <= 0 or h > 24 * 30 for h in hours):
            raise forms.ValidationError(MESSAGES["bad_offsets"])
        return hours

    def clean(self):
        data = super().clean()
        if not data.get("venue") and not data.get("online_url"):
            self.add_error("venue", MESSAGES["needs_place"])
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", MESSAGES["ends_before_start"])
        closes = data.get("booking_closes_at")
        if closes and starts and closes > starts:
            self.add_error("booking_closes_at", MESSAGES["closes_after_start"])
        return data


class RegistrationForm(forms.Form):
    guardians = forms.MultipleChoiceField(
        label=_("参加的家长"), required=False, widget=forms.CheckboxSelectMultiple
    )
    children = forms.MultipleChoiceField(
        label=_("参加的孩子"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, family, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["guardians"].choices = [
            (g.pk, str(g)) for g in family.guardians.select_related("user")
        ]
        self.fields["children"].choices = [(c.pk, c.nickname) for c in family.children.all()]

    def clean(self):
        data = super().clean()
        if not data.get("guardians") and not data.get("children"):
            raise forms.ValidationError(_("请至少选择一位参加人。"))
        return data
