"""Forms of the group pages. They only shape what was typed; every rule (sizes,
who may facilitate, phones, times) is groups.services', whose GroupError is shown
on the field it names."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Group
from .services import DESCRIPTION_MAX, NAME_MAX, REASON_MAX, SESSION_CAPACITY_MAX, SIZE_LIMIT


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class GroupEditForm(forms.Form):
    name = forms.CharField(label=_("小组名称"), max_length=NAME_MAX)
    description = forms.CharField(
        label=_("小组介绍"),
        max_length=DESCRIPTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("写给家长看：小组做什么、多久聚一次。"),
    )
    joining = forms.ChoiceField(label=_("加入方式"), choices=Group.Joining.choices)
    min_size = forms.IntegerField(label=_("最少成员数"), min_value=1, max_value=SIZE_LIMIT)
    max_size = forms.IntegerField(
        label=_("最多成员数"),
        min_value=1,
        max_value=SIZE_LIMIT,
        help_text=_("学伴小组按孩子计数，家伴小组按家庭计数。"),
    )


class GroupCreateForm(GroupEditForm):
    field_order = [
        "parent_school_id",
        "kind",
        "name",
        "description",
        "facilitator_id",
        "facilitator_role",
        "joining",
        "min_size",
        "max_size",
    ]
    parent_school_id = forms.TypedChoiceField(label=_("家长学校"), coerce=int, choices=())
    kind = forms.ChoiceField(label=_("小组类型"), choices=Group.Kind.choices)
    facilitator_id = forms.TypedChoiceField(label=_("带领人"), coerce=int, choices=())
    facilitator_role = forms.ChoiceField(
        label=_("带领人身份"), choices=Group.FacilitatorRole.choices
    )

    def __init__(self, *args, schools=(), facilitators=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent_school_id"].choices = [(s.pk, s.name) for s in schools]
        self.fields["facilitator_id"].choices = [
            (u.pk, u.display_name or u.get_username()) for u in facilitators
        ]


class AddMemberForm(forms.Form):
    """学伴小组: the family's only child is taken; a family with several children
    joins by itself (it picks the child), so no child ids are shown to staff here."""

    phone = forms.CharField(
        label=_("家长手机号"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        help_text=_("本校已登记的家长的手机号。"),
    )


class SessionForm(forms.Form):
    title = forms.CharField(label=_("活动名称"), max_length=200)
    starts_at = forms.DateTimeField(label=_("开始时间"), widget=DateTimeLocalInput())
    ends_at = forms.DateTimeField(label=_("结束时间"), widget=DateTimeLocalInput())
    capacity = forms.IntegerField(
        label=_("名额（人）"), min_value=1, max_value=SESSION_CAPACITY_MAX
    )
    venue = forms.CharField(label=_("地点"), max_length=200, required=False)
    online_url = forms.CharField(label=_("线上链接"), max_length=200, required=False)
    note = forms.CharField(label=_("说明"), max_length=300, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因（会告诉家长）"),
        max_length=REASON_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
