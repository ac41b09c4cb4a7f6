"""Forms of the evaluation pages: they collect fields; the services validate them
(a refusal comes back as an EvaluationError naming the field)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import services
from .models import ImprovementAction


class FeedbackForm(forms.Form):
    strengths = forms.CharField(
        label=_("亮点"),
        required=False,
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("本学期做得好的地方。"),
    )
    problems = forms.CharField(
        label=_("问题与不足"),
        required=False,
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("需要改进的地方；亮点和问题至少填写一项。"),
    )


class ActionForm(forms.Form):
    what = forms.CharField(label=_("改进措施"), max_length=services.WHAT_MAX)
    owner = forms.CharField(
        label=_("负责人"), max_length=services.OWNER_MAX, help_text=_("姓名或岗位。")
    )
    due_on = forms.DateField(label=_("完成期限"), widget=forms.DateInput(attrs={"type": "date"}))
    feedback = forms.TypedChoiceField(
        label=_("针对的反馈"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, feedback_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["feedback"].choices = [("", _("（整个学期）")), *feedback_choices]


class ActionUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=ImprovementAction.Status.choices)
    note = forms.CharField(
        label=_("进展说明"),
        required=False,
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    evidence = forms.CharField(
        label=_("完成情况与佐证"),
        required=False,
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("标记为已完成时必填：做了什么、结果如何、材料存放在哪里。"),
    )
