"""Forms of the recognition pages: input only; the rules are in services.py."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import LearningFamilyRule


class RuleForm(forms.ModelForm):
    class Meta:
        model = LearningFamilyRule
        fields = [
            "min_credits",
            "min_points",
            "min_home_items",
            "min_school_items",
            "min_behaviour_items",
            "min_sessions",
            "no_open_rejection",
        ]
        help_texts = {
            "min_credits": _("学分银行中本学期的学分合计（含更正），填 0 表示不要求。"),
            "min_points": _("本学期通过审核的手册积分合计，填 0 表示不要求。"),
            "min_home_items": _("例如 6：10 项在家陪伴中至少 6 项各完成一次。"),
            "min_sessions": _("本学期出席的家长学校课程或联盟活动场次。"),
        }


class OverrideForm(forms.Form):
    included = forms.TypedChoiceField(
        label=_("是否入选"),
        choices=[("1", _("入选")), ("0", _("不入选"))],
        coerce=lambda value: value == "1",
    )
    reason = forms.CharField(label=_("理由"), max_length=200, required=False)


class CommendationForm(forms.Form):
    alliance = forms.TypedChoiceField(label=_("联盟"), coerce=int)
    unit = forms.TypedChoiceField(label=_("推荐单位"), coerce=int)
    guardian = forms.IntegerField(
        label=_("家长编号"),
        help_text=_("在“本单位家庭”页面可以看到家长编号。"),
        min_value=1,
    )
    reason = forms.CharField(
        label=_("推荐理由"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, alliances=(), units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["alliance"].choices = [(a.pk, a.name) for a in alliances]
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]
