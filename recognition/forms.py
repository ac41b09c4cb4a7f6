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


class GuardianSearchForm(forms.Form):
    """Step one of a nomination (GET): the unit, and a search among its families'
    guardians when there are many."""

    unit = forms.TypedChoiceField(label=_("推荐单位"), coerce=int)
    q = forms.CharField(
        label=_("查找家长"),
        help_text=_("姓名中的字，或手机号码后 4 位；不填则列出本单位家庭的家长。"),
        max_length=50,
        required=False,
    )

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]


class CommendationForm(forms.Form):
    """Step two (POST): the guardian is chosen from the unit's families' guardians
    the coordinator sees (masked names, at most a few hundred at once); a guardian
    outside them is refused on the field, whatever the page offered."""

    alliance = forms.TypedChoiceField(label=_("联盟"), coerce=int)
    unit = forms.TypedChoiceField(label=_("推荐单位"), coerce=int, widget=forms.HiddenInput)
    guardian = forms.TypedChoiceField(
        label=_("家长"),
        coerce=int,
        help_text=_("本单位家庭的家长（姓名、手机号已隐藏）。"),
        error_messages={"invalid_choice": _("请从列表中选择本单位家庭的家长。")},
    )
    reason = forms.CharField(
        label=_("推荐理由"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self, *args, alliances=(), units=(), guardians=(), guardian_allowed=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["alliance"].choices = [(a.pk, a.name) for a in alliances]
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]
        self.fields["guardian"].choices = [("", _("请选择家长"))] + list(guardians)
        # guardian_allowed(unit_id, guardian_id) -> bool: the scope check (the list
        # shown may be cut short or searched; any guardian in scope is accepted).
        self._guardian_allowed = guardian_allowed or (lambda unit_id, guardian_id: False)
        self.fields["guardian"].valid_value = self._guardian_value_valid

    def _guardian_value_valid(self, value) -> bool:
        try:
            guardian_id = int(value)
            unit_id = int(self.data.get(self.add_prefix("unit")) or "")
        except (TypeError, ValueError):
            return False
        return guardian_id > 0 and self._guardian_allowed(unit_id, guardian_id)
