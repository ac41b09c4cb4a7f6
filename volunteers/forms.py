"""Forms of the volunteer pages. They only shape what was typed; every rule is
volunteers.services', whose VolunteerError is shown on the field it names."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from parent_school.models import GuidanceArea, Instructor

from .errors import MESSAGES
from .models import VolunteerApplication
from .services import (
    MAX_AVAILABILITY,
    MAX_BACKGROUND,
    MAX_DESCRIPTION,
    MAX_EXPERTISE,
    MAX_NAME,
    MAX_NOTE,
)


class ApplicationForm(forms.Form):
    centre = forms.TypedChoiceField(
        label=_("申请加入的指导中心"),
        coerce=int,
        choices=(),
        error_messages={
            "required": MESSAGES["centre_missing"],
            "invalid_choice": MESSAGES["centre_missing"],
        },
    )
    name = forms.CharField(
        label=_("姓名"), max_length=MAX_NAME, error_messages={"required": MESSAGES["name_required"]}
    )
    background = forms.CharField(
        label=_("专业背景"),
        max_length=MAX_BACKGROUND,
        error_messages={"required": MESSAGES["background_required"]},
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("例如：所在单位、职业、相关经历。只有审核的协调员能看到。"),
    )
    expertise = forms.CharField(
        label=_("擅长方向"),
        max_length=MAX_EXPERTISE,
        error_messages={"required": MESSAGES["expertise_required"]},
        help_text=_("例如：亲子沟通、青春期心理。通过后会显示在您的公开简介里。"),
    )
    areas = forms.MultipleChoiceField(
        label=_("指导领域"),
        choices=GuidanceArea.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": MESSAGES["areas_required"],
            "invalid_choice": MESSAGES["areas_invalid"],
        },
    )
    availability = forms.CharField(
        label=_("可服务时间"),
        max_length=MAX_AVAILABILITY,
        error_messages={"required": MESSAGES["availability_required"]},
        help_text=_("例如：周末下午、工作日晚上。"),
    )

    def __init__(self, *args, centres=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["centre"].choices = [("", _("请选择"))] + [(c.pk, c.name) for c in centres]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("审核结果"),
        choices=[("approve", _("通过")), ("decline", _("不通过"))],
        widget=forms.RadioSelect,
    )
    tier = forms.ChoiceField(
        label=_("层级"),
        choices=[("", _("请选择"))] + list(Instructor.Tier.choices),
        required=False,
        help_text=_("通过时必选。"),
    )
    serves_as = forms.ChoiceField(
        label=_("服务方式"),
        choices=[("", _("请选择"))] + list(VolunteerApplication.ServesAs.choices),
        required=False,
        help_text=_("通过时必选。担任导师的志愿者会加入指导站的导师名单。"),
    )
    station = forms.TypedChoiceField(
        label=_("指导站"),
        coerce=int,
        choices=(),
        required=False,
        empty_value=None,
        help_text=_("担任导师时选择；不选则为本中心的指导站。"),
    )
    note = forms.CharField(
        label=_("审核说明"),
        max_length=MAX_NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("会告知申请人。"),
    )

    def __init__(self, *args, stations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["station"].choices = [("", _("本中心的指导站"))] + [
            (s.pk, s.name) for s in stations
        ]


class HoursForm(forms.Form):
    instructor = forms.TypedChoiceField(label=_("志愿者"), coerce=int, choices=())
    served_on = forms.DateField(
        label=_("服务日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": MESSAGES["served_on_required"],
            "invalid": MESSAGES["served_on_required"],
        },
    )
    hours = forms.DecimalField(
        label=_("时长（小时）"),
        min_value=0,
        error_messages={
            "required": MESSAGES["hours_invalid"],
            "invalid": MESSAGES["hours_invalid"],
            "min_value": MESSAGES["hours_invalid"],
            "max_digits": MESSAGES["hours_invalid"],
            "max_decimal_places": MESSAGES["hours_invalid"],
        },
        max_digits=4,
        decimal_places=1,
        help_text=_("以半小时为单位，例如 1.5。"),
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
    )
    description = forms.CharField(
        label=_("服务内容"),
        max_length=MAX_DESCRIPTION,
        error_messages={"required": MESSAGES["description_required"]},
        help_text=_("例如：社区家庭教育讲座、家长沙龙。"),
    )

    def __init__(self, *args, instructors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instructor"].choices = [(i.pk, i.name) for i in instructors]


class HoursDecisionForm(forms.Form):
    verify = forms.TypedChoiceField(
        label=_("核实结果"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("核实通过")), ("no", _("不通过"))],
    )


class ReviewerForm(forms.Form):
    course = forms.IntegerField(widget=forms.HiddenInput)
    reviewer = forms.IntegerField(label=_("审阅专家"), required=False)
