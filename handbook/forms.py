"""Forms of the handbook's pages. They only read and shape what the parent or the
verifier typed; every rule (limits, evidence, dates, scope) is the services'
(handbook/services.py), whose HandbookError is shown on the field it names."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.models import Event

from .models import Claim, HandbookItem, ItemKind
from .services import (
    ITEM_FIELDS,
    LIMIT_MAX,
    NOTE_MAX,
    POINTS_MAX,
    POINTS_MIN,
    POSITION_MAX,
    REASON_MAX,
)

# A phone opens its camera for this input; the service re-encodes whatever comes.
# No ``capture``: it opens the camera only, and a parent may want a photo taken earlier.
PHOTO_WIDGET_ATTRS = {"accept": "image/*"}


class IsoDateInput(forms.DateInput):
    """``<input type=date>``: its value must be a date (YYYY-MM-DD) or empty, so a
    bad value sent back is shown empty with its error, never echoed."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")

    def format_value(self, value):
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value).isoformat()
            except ValueError:
                return None
        return super().format_value(value)


def evidence_hint(item: HandbookItem) -> str:
    """What the family must add for ``item``, in plain words."""
    return {
        HandbookItem.Evidence.NONE: _("无需凭证"),
        HandbookItem.Evidence.NOTE: _("需写一句说明"),
        HandbookItem.Evidence.PHOTO: _("需上传照片"),
        HandbookItem.Evidence.ATTENDANCE: _("按签到记录自动生成"),
        HandbookItem.Evidence.COSIGN: _("需老师或讲师确认"),
    }.get(item.evidence, item.get_evidence_display())


def item_choice_label(item: HandbookItem) -> str:
    return _("%(name)s（%(points)s 分 · %(evidence)s）") % {
        "name": item.name,
        "points": item.points,
        "evidence": evidence_hint(item),
    }


class ClaimForm(forms.Form):
    """申报: an item (grouped by kind), the child it concerns, the day, a note and a photo."""

    item = forms.TypedChoiceField(label=_("申报项目"), coerce=int, widget=forms.RadioSelect)
    child = forms.TypedChoiceField(
        label=_("相关的孩子"),
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
        help_text=_("可不选。"),
    )
    occurred_on = forms.DateField(
        label=_("日期"),
        widget=IsoDateInput(),
        help_text=_("做这件事的那一天，不能晚于今天。"),
    )
    note = forms.CharField(
        label=_("说明"),
        max_length=NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("简单写写做了什么，例如“和孩子一起读了《小王子》第一章”。"),
    )
    photo = forms.FileField(
        label=_("照片"),
        required=False,
        widget=forms.FileInput(attrs=PHOTO_WIDGET_ATTRS),
        help_text=_("拍一张照片或从相册选一张；照片只给您的家庭和审核老师看。"),
    )

    def __init__(self, *args, items, children, **kwargs):
        super().__init__(*args, **kwargs)
        # Items proposed from the attendance record are never claimed by hand.
        self.items = [
            i
            for i in items
            if i.evidence != HandbookItem.Evidence.ATTENDANCE and not i.attendance_match
        ]
        self.fields["item"].choices = [(i.pk, item_choice_label(i)) for i in self.items]
        self.fields["child"].choices = [("", _("不指定孩子"))] + [
            (c.pk, c.nickname) for c in children
        ]
        self.fields["occurred_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        if not self.is_bound:
            self.initial.setdefault("occurred_on", timezone.localdate())

    def item_groups(self) -> list[tuple[str, list]]:
        """The item radios grouped by kind: [(kind label, [(radio, item), ...]), ...]."""
        radios = {str(r.data["value"]): r for r in self["item"].subwidgets}
        groups = []
        for kind, label in ItemKind.choices:
            rows = [(radios[str(i.pk)], i) for i in self.items if i.kind == kind]
            if rows:
                groups.append((label, rows))
        return groups


class RespondForm(forms.Form):
    """需补充: the family adds a note and/or a photo, and the claim is pending again."""

    note = forms.CharField(
        label=_("补充说明"),
        max_length=NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photo = forms.FileField(
        label=_("补充照片"), required=False, widget=forms.FileInput(attrs=PHOTO_WIDGET_ATTRS)
    )


class DecisionForm(forms.Form):
    """The verifier's decision; the reason is needed for 退回 and 需补充 (the service says so)."""

    DECISIONS = (("approve", _("通过")), ("reject", _("退回")), ("more", _("请家长补充")))

    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("审核意见"),
        max_length=REASON_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("退回时写明原因，请家长补充时写明需要补充什么；家长会看到这段话。"),
    )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False)
    unit = forms.TypedChoiceField(label=_("审核单位"), coerce=int, required=False, empty_value=None)
    kind = forms.ChoiceField(label=_("类别"), required=False)
    source = forms.ChoiceField(label=_("来源"), required=False)

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            (s, label) for s, label in Claim.Status.choices if s != Claim.Status.WITHDRAWN
        ]
        self.fields["unit"].choices = [("", _("全部单位"))] + [(u.pk, u.name) for u in units]
        self.fields["kind"].choices = [("", _("全部类别")), *ItemKind.choices]
        self.fields["source"].choices = [("", _("全部来源")), *Claim.Source.choices]

    def filters(self) -> dict:
        """The chosen filters; an unknown value falls back to the default."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "status": data.get("status") or Claim.Status.PENDING,
            "unit_id": data.get("unit"),
            "kind": data.get("kind") or None,
            "source": data.get("source") or None,
        }


class ItemForm(forms.ModelForm):
    """A coordinator's item: points, limits, evidence, in use or not."""

    class Meta:
        model = HandbookItem
        fields = list(ITEM_FIELDS)
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    event_kinds = forms.MultipleChoiceField(
        label=_("关联的活动类型"),
        required=False,
        choices=Event.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("自动关联联盟活动时，只关联这些类型；都不选表示所有类型。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Bounds for the browser only: item_validate refuses a number out of them
        # (a smallint column's overflow too) on its field, and the view shows it.
        self.fields["points"].widget.attrs.update(min=POINTS_MIN, max=POINTS_MAX)
        for name in ("limit_per_day", "limit_per_week", "limit_per_term"):
            self.fields[name].widget.attrs.update(min=1, max=LIMIT_MAX)
        self.fields["position"].widget.attrs.update(min=0, max=POSITION_MAX)

    def _post_clean(self):
        # The form neither builds nor saves the row: handbook_item_save checks the
        # model's rules (a name unique in the alliance, the limits) and says which.
        pass

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in ITEM_FIELDS}
