"""Forms of the station's pages. They only shape what was typed and label it;
every rule (areas, children, the need's length, limits, times) is
guidance.services', whose GuidanceError is shown on the field it names."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from parent_school.models import GuidanceArea

from .models import Consultation, Mentor, SlotKind

WEEKDAYS = [
    (0, _("星期一")),
    (1, _("星期二")),
    (2, _("星期三")),
    (3, _("星期四")),
    (4, _("星期五")),
    (5, _("星期六")),
    (6, _("星期日")),
]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class BookingForm(forms.Form):
    area = forms.ChoiceField(label=_("指导领域"), choices=(), required=False)
    for_whom = forms.ChoiceField(
        label=_("为谁预约"), choices=(), required=False, widget=forms.RadioSelect
    )
    child_id = forms.ChoiceField(
        label=_("哪个孩子"),
        choices=(),
        required=False,
        help_text=_("为孩子预约时选择。"),
    )
    need = forms.CharField(
        label=_("想咨询的问题"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("简单写几句，最多 %(n)s 字。只有接待您的导师能看到。")
        % {"n": settings.GUIDANCE_NEED_MAX_CHARS},
    )
    referral_id = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, areas=(), children=(), is_teacher=False, has_family=True, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(GuidanceArea.choices)
        self.fields["area"].choices = [(a, labels.get(a, a)) for a in areas]
        whom = []
        if has_family:
            whom += [
                (Consultation.ForWhom.CHILD, Consultation.ForWhom.CHILD.label),
                (Consultation.ForWhom.PARENT, Consultation.ForWhom.PARENT.label),
            ]
        if is_teacher:
            whom.append((Consultation.ForWhom.TEACHER, Consultation.ForWhom.TEACHER.label))
        self.fields["for_whom"].choices = whom
        self.fields["child_id"].choices = [("", _("请选择"))] + [
            (c.pk, c.nickname) for c in children
        ]
        if not children:
            del self.fields["child_id"]
        self.fields["need"].widget.attrs["maxlength"] = settings.GUIDANCE_NEED_MAX_CHARS


class _SlotFields(forms.Form):
    minutes = forms.IntegerField(label=_("时长（分钟）"), initial=50, required=False)
    kind = forms.ChoiceField(label=_("形式"), choices=SlotKind.choices, required=False)
    capacity = forms.IntegerField(
        label=_("名额（人）"), initial=1, required=False, help_text=_("一对一为 1；小组最多 20。")
    )
    mode = forms.ChoiceField(label=_("方式"), choices=Mentor.Mode.choices, required=False)
    venue = forms.CharField(label=_("地点"), max_length=200, required=False)
    online_url = forms.CharField(label=_("线上链接"), max_length=200, required=False)

    def __init__(self, *args, mentors=(), **kwargs):
        super().__init__(*args, **kwargs)
        mentors = list(mentors)
        if len(mentors) > 1:
            self.fields["mentor_id"] = forms.TypedChoiceField(
                label=_("导师"), coerce=int, choices=[(m.pk, m.name) for m in mentors]
            )
            self.order_fields(["mentor_id"])


class SlotForm(_SlotFields):
    starts_at = forms.DateTimeField(
        label=_("开始时间"), widget=DateTimeLocalInput(), required=False
    )
    field_order = ["starts_at", "minutes", "kind", "capacity", "mode", "venue", "online_url"]


class PatternForm(_SlotFields):
    weekday = forms.TypedChoiceField(label=_("每周"), coerce=int, choices=WEEKDAYS)
    starts_time = forms.TimeField(
        label=_("开始时间"), widget=forms.TimeInput(attrs={"type": "time"}), required=False
    )
    first_date = forms.DateField(
        label=_("起始日期"), widget=forms.DateInput(attrs={"type": "date"}), required=False
    )
    last_date = forms.DateField(
        label=_("结束日期"),
        widget=forms.DateInput(attrs={"type": "date"}),
        required=False,
        help_text=_("可不填：一直按周开放。"),
    )
    field_order = [
        "weekday",
        "starts_time",
        "minutes",
        "kind",
        "capacity",
        "mode",
        "venue",
        "online_url",
        "first_date",
        "last_date",
    ]


class ReferralForm(forms.Form):
    to_area = forms.ChoiceField(label=_("转介到的领域"), choices=GuidanceArea.choices)
    to_mentor_id = forms.ChoiceField(label=_("转介导师"), choices=(), required=False)
    message = forms.CharField(
        label=_("给家庭的说明"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("会发给家庭。请不要写咨询记录的内容。"),
    )

    def __init__(self, *args, mentors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_mentor_id"].choices = [("", _("不指定，由家庭选择"))] + [
            (m.pk, f"{m.name}（{'、'.join(m.area_labels())}）") for m in mentors
        ]


class LimitLiftForm(forms.Form):
    extra_open = forms.IntegerField(
        label=_("增加同时预约数"), min_value=0, max_value=20, initial=0, required=False
    )
    extra_term = forms.IntegerField(
        label=_("增加本学期预约数"), min_value=0, max_value=20, initial=0, required=False
    )
    reason = forms.CharField(label=_("原因"), max_length=200, required=False)
