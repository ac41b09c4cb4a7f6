"""The lesson list's filters (a plain form: the course catalogue has its own FilterSet)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import SchoolStage

from .models import Theme

# Whole minutes as parents think of a spare moment; bounds in seconds, inclusive.
DURATIONS = {
    "5": (_("5 分钟以内"), None, 300),
    "15": (_("5–15 分钟"), 301, 900),
    "30": (_("15–30 分钟"), 901, 1800),
    "more": (_("30 分钟以上"), 1801, None),
}
SOURCES = {
    "here": _("本站播放（计学分）"),
    "outside": _("外部链接（不计学分）"),
}


class LessonFilterForm(forms.Form):
    q = forms.CharField(label=_("关键词"), required=False, max_length=50)
    theme = forms.ModelChoiceField(
        label=_("主题"), queryset=Theme.objects.all(), required=False, empty_label=_("全部主题")
    )
    stage = forms.ChoiceField(
        label=_("学段"), required=False, choices=[("", _("全部学段")), *SchoolStage.choices]
    )
    duration = forms.ChoiceField(
        label=_("时长"),
        required=False,
        choices=[("", _("不限时长"))] + [(key, label) for key, (label, *_b) in DURATIONS.items()],
    )
    source = forms.ChoiceField(
        label=_("播放方式"), required=False, choices=[("", _("全部")), *SOURCES.items()]
    )
