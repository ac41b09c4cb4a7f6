"""Forms of the coordinators' survey pages: input only.

The rules (scope, versions, conditions, windows) are surveys/services.py's; these
forms offer only what the person may pick (members/access.py through the views'
querysets) and refuse anything else on its field, so a foreign id in a POST
never reaches a service.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from parent_school.models import Term

from .models import Question, Survey

#: Target choices are "<scope>:<id>", so one select holds every kind of target.
TARGET_SEPARATOR = ":"

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _window_fields():
    return (
        forms.DateTimeField(
            label=_("开始时间"),
            required=False,
            widget=DATETIME_WIDGET,
            input_formats=DATETIME_FORMATS,
            help_text=_("北京时间。场次、活动问卷留空：活动结束时开始。"),
        ),
        forms.DateTimeField(
            label=_("截止时间"),
            required=False,
            widget=DATETIME_WIDGET,
            input_formats=DATETIME_FORMATS,
            help_text=_("北京时间。场次、活动问卷留空：结束后按“可作答天数”截止。"),
        ),
    )


class SurveyCreateForm(forms.Form):
    """「新建问卷」: the target is chosen from the user's own offerings, courses,
    parent schools and alliances (``targets``: {scope: [(id, label)]})."""

    template = forms.TypedChoiceField(label=_("问卷模板"), coerce=int)
    target = forms.ChoiceField(
        label=_("发给谁"),
        help_text=_("只列出您负责的场次、活动、课程、家长学校和联盟。"),
        error_messages={"invalid_choice": _("请从列表中选择您负责的对象。")},
    )
    term = forms.ModelChoiceField(
        label=_("学期"),
        queryset=Term.objects.order_by("-starts_on"),
        required=False,
        help_text=_("家长学校学期、联盟学期问卷必填。"),
        error_messages={"invalid_choice": _("请选择列表中的学期。")},
    )
    title = forms.CharField(
        label=_("标题"), max_length=120, required=False, help_text=_("留空则用模板名称。")
    )
    is_anonymous = forms.BooleanField(
        label=_("匿名问卷"),
        required=False,
        help_text=_("匿名问卷不记录答卷属于哪个家庭，也不能导出原始答卷。"),
    )
    opens_at, closes_at = _window_fields()
    invite_delay_minutes = forms.IntegerField(
        label=_("结束后多久发送邀请（分钟）"),
        min_value=0,
        max_value=7 * 24 * 60,
        required=False,
        help_text=_("留空则为 120 分钟。"),
    )
    answer_days = forms.IntegerField(
        label=_("结束后可作答天数"), min_value=1, max_value=60, initial=7
    )

    def __init__(self, *args, templates=(), targets=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", _("请选择模板"))] + [
            (t.pk, str(t)) for t in templates
        ]
        groups = []
        labels = dict(Survey.Scope.choices)
        for scope, rows in (targets or {}).items():
            if rows:
                groups.append(
                    (
                        labels[scope],
                        [(f"{scope}{TARGET_SEPARATOR}{pk}", label) for pk, label in rows],
                    )
                )
        self.fields["target"].choices = [("", _("请选择"))] + groups

    def clean(self):
        data = super().clean()
        target = data.get("target")
        if target:
            scope, _sep, pk = target.partition(TARGET_SEPARATOR)
            data["scope"], data["target_id"] = scope, int(pk)
            term_scopes = (Survey.Scope.PARENT_SCHOOL_TERM, Survey.Scope.ALLIANCE_TERM)
            if scope in term_scopes and not data.get("term"):
                self.add_error("term", _("家长学校学期、联盟学期问卷请选择学期。"))
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("截止时间须晚于开始时间。"))
        return data


class DeployForm(forms.Form):
    """「发给所有家长学校」: one term survey per parent school in the user's scope."""

    template = forms.TypedChoiceField(label=_("问卷模板"), coerce=int)
    term = forms.ModelChoiceField(
        label=_("学期"),
        queryset=Term.objects.order_by("-starts_on"),
        error_messages={"invalid_choice": _("请选择列表中的学期。")},
    )
    is_anonymous = forms.BooleanField(label=_("匿名问卷"), required=False)
    opens_at, closes_at = _window_fields()

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", _("请选择模板"))] + [
            (t.pk, str(t)) for t in templates
        ]
        self.fields["opens_at"].required = True
        self.fields["closes_at"].required = True

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("截止时间须晚于开始时间。"))
        return data


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=80)
    description = forms.CharField(
        label=_("说明"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


#: The owner value of a template without an alliance (the city's). Not "": a
#: required choice refuses an empty value, so "" could never be chosen.
CITY_OWNER = "city"


class TemplateCreateForm(TemplateForm):
    """A new template belongs to the city (city admins) or to an alliance the user
    coordinates (``owners``: [(value, label)], ``CITY_OWNER`` for the city)."""

    owner = forms.ChoiceField(
        label=_("所属"), error_messages={"invalid_choice": _("请选择您负责的联盟。")}
    )

    field_order = ["owner", "name", "description"]

    def __init__(self, *args, owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = list(owners)


class TemplateUpdateForm(TemplateForm):
    is_active = forms.BooleanField(label=_("在用"), required=False)


class SectionForm(forms.Form):
    title = forms.CharField(label=_("部分标题"), max_length=80)


def _numbers(text: str) -> list[int] | None:
    parts = [p for p in text.replace("，", ",").replace("、", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        return None


class QuestionForm(forms.Form):
    """One question. Options one per line; the condition names an earlier
    question and the answers that show this one (choices by their number in
    the list, from 1; ratings and NPS by their value)."""

    section = forms.TypedChoiceField(label=_("所在部分"), coerce=int)
    kind = forms.ChoiceField(label=_("题型"), choices=Question.Kind.choices)
    label = forms.CharField(label=_("题目"), max_length=200)
    help_text = forms.CharField(label=_("提示"), max_length=200, required=False)
    required = forms.BooleanField(label=_("必答"), required=False, initial=True)
    options = forms.CharField(
        label=_("选项"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("单选、多选题：每行一个选项，2–20 项。其他题型留空。"),
    )
    show_if = forms.TypedChoiceField(
        label=_("显示条件：前面的题目"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("留空表示总是显示。"),
    )
    show_if_values = forms.CharField(
        label=_("显示条件：答案"),
        max_length=100,
        required=False,
        help_text=_(
            "单选、多选填选项序号（从 1 开始），评分、推荐度填分值；多个用逗号分开，例如 1,2。"
        ),
    )
    measure = forms.ChoiceField(
        label=_("考核指标"),
        choices=Question.Measure.choices,
        required=False,
        help_text=_("“满意度”只用于评分题，计入单位考核。"),
    )

    def __init__(self, *args, sections=(), earlier=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["section"].choices = [(s.pk, s.title) for s in sections]
        self.earlier = {q.pk: q for q in earlier}
        self.fields["show_if"].choices = [("", _("（总是显示）"))] + [
            (q.pk, q.label) for q in earlier
        ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        data["options"] = [
            line.strip() for line in (data.get("options") or "").splitlines() if line.strip()
        ]
        if kind in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
            if not 2 <= len(data["options"]) <= 20:
                self.add_error("options", _("单选、多选题需要 2–20 个选项，每行一个。"))
        elif data["options"]:
            self.add_error("options", _("只有单选、多选题有选项，请清空。"))
        show_if = data.get("show_if")
        values = _numbers(data.get("show_if_values") or "")
        if values is None:
            self.add_error("show_if_values", _("请填写数字，用逗号分开，例如 1,2。"))
            values = []
        if show_if is not None:
            source = self.earlier.get(show_if)
            if not values:
                self.add_error("show_if_values", _("请填写显示本题的答案。"))
            elif source is not None and source.kind in (
                Question.Kind.SINGLE,
                Question.Kind.MULTIPLE,
            ):
                # People count options from 1; the answers hold their index.
                values = [v - 1 for v in values]
        else:
            values = []
        data["show_if_values"] = values
        if data.get("measure") == Question.Measure.SATISFACTION and kind != Question.Kind.RATING:
            self.add_error("measure", _("满意度只能用于评分（1–5）题。"))
        return data


class ComparisonForm(forms.Form):
    """The comparison page's choices (GET)."""

    template = forms.TypedChoiceField(label=_("问卷模板"), coerce=int)
    by = forms.ChoiceField(
        label=_("按什么比较"),
        choices=[
            ("parent_school", _("家长学校")),
            ("unit", _("单位")),
            ("term", _("学期")),
        ],
        initial="parent_school",
    )
    terms = forms.ModelMultipleChoiceField(
        label=_("学期"),
        queryset=Term.objects.order_by("-starts_on"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选表示全部学期。"),
    )

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [(t.pk, str(t)) for t in templates]
