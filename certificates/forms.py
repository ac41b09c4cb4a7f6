"""Forms of the coordinators' certificate pages. They only read and tidy what was
typed; the rules (who may, once per key, only a valid certificate) are the
services'. Every field has a Chinese label; a wrong value is an error on its field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from members.formatting import id_or_none

from .models import Certificate, Kind
from .services import REASON_MAX


class BatchForm(forms.Form):
    alliance = forms.TypedChoiceField(label=_("联盟"), coerce=int, empty_value=None)
    term = forms.TypedChoiceField(label=_("学期"), coerce=int, empty_value=None)

    def __init__(self, *args, alliances=(), terms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["alliance"].choices = [(a.pk, a.name) for a in alliances]
        self.fields["term"].choices = [(t.pk, str(t)) for t in terms]
        self.fields["alliance"].error_messages["invalid_choice"] = _("请从列表中选择联盟。")
        self.fields["term"].error_messages["invalid_choice"] = _("请从列表中选择学期。")
        current = next((t for t in terms if t.is_current), None)
        if current is not None:
            self.fields["term"].initial = current.pk


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("只记在操作记录里，验证页面不显示原因。"),
    )

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        field.required = required
        field.error_messages["required"] = _("请填写原因。")
        field.error_messages["max_length"] = _("原因最多 %(limit_value)s 个字。")
        if not required:
            field.label = _("原因（选填）")


class ManageFilterForm(forms.Form):
    """The list's filters, from the query string: a value that is not one of the
    choices is left out (the list is shown unfiltered), never an error page."""

    alliance = forms.ChoiceField(label=_("联盟"), required=False)
    term = forms.ChoiceField(label=_("学期"), required=False)
    kind = forms.ChoiceField(label=_("证书类别"), required=False)
    status = forms.ChoiceField(label=_("状态"), required=False)
    code = forms.CharField(label=_("验证码"), required=False, max_length=20)

    def __init__(self, data=None, *, alliances=(), terms=()):
        data = data.copy() if data is not None else None
        # Its own ids: the batch form on the same page has fields of the same names.
        super().__init__(data, auto_id="filter_%s")
        everything = [("", _("全部"))]
        self.fields["alliance"].choices = everything + [(str(a.pk), a.name) for a in alliances]
        self.fields["term"].choices = everything + [(str(t.pk), str(t)) for t in terms]
        self.fields["kind"].choices = everything + list(Kind.choices)
        self.fields["status"].choices = everything + list(Certificate.Status.choices)

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        self.is_valid()
        data = {}
        for name in self.fields:
            value = self.cleaned_data.get(name) if name not in self.errors else ""
            data[name] = value or ""
        return {
            "alliance_id": id_or_none(data["alliance"]),
            "term_id": id_or_none(data["term"]),
            "kind": data["kind"],
            "status": data["status"],
            "code": data["code"],
        }
