"""The family's forms: one question per screen.

``AnswerForm`` is built for one ``Question`` and has one field, ``answer``, whose
widget suits the kind (radio buttons for single choice, ratings and NPS; check
boxes for multiple choice; a text box with its length limit for texts). Its
``value()`` is the answer in the format every surveys service takes
(int, list[int] or str, see docs/SURVEYS.md "Answering"); ``None`` when empty.
Whether a required question may be left empty is the view's decision (going
back keeps an empty answer, going on does not).
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Question

SHORT_TEXT_MAX = 500
LONG_TEXT_MAX = 2000

RATING_LABELS = {
    1: gettext_lazy("1 · 非常不满意"),
    2: gettext_lazy("2 · 不满意"),
    3: gettext_lazy("3 · 一般"),
    4: gettext_lazy("4 · 满意"),
    5: gettext_lazy("5 · 非常满意"),
}


def nps_label(number: int) -> str:
    """0 and 10 say what the ends mean; the numbers between are the number."""
    if number == 0:
        return _("0 · 完全不可能")
    if number == 10:
        return _("10 · 非常愿意")
    return str(number)


def choices_for(question: Question) -> list[tuple[int, str]]:
    """The options a choice, rating or NPS question offers: (value, visible label)."""
    if question.kind in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
        return list(enumerate(question.options or []))
    if question.kind == Question.Kind.RATING:
        return [(n, str(RATING_LABELS[n])) for n in range(1, 6)]
    if question.kind == Question.Kind.NPS:
        return [(n, nps_label(n)) for n in range(0, 11)]
    return []


def answer_display(question: Question, value) -> str:
    """An answer as the review page shows it ("" when not answered)."""
    if value in (None, "", []):
        return ""
    if question.kind in Question.TEXT_KINDS:
        return str(value)
    labels = dict(choices_for(question))
    values = value if isinstance(value, list) else [value]
    return _("、").join(str(labels.get(v, v)) for v in values)


class AnswerForm(forms.Form):
    def __init__(self, *args, question: Question, **kwargs):
        super().__init__(*args, **kwargs)
        self.question = question
        kind = question.kind
        described = {"aria-describedby": "question-help"} if question.help_text else {}
        # Required is checked by the view (so that 上一题 can keep an empty answer).
        if kind == Question.Kind.MULTIPLE:
            field = forms.TypedMultipleChoiceField(
                choices=choices_for(question),
                coerce=int,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        elif kind in (Question.Kind.SINGLE, Question.Kind.RATING, Question.Kind.NPS):
            field = forms.TypedChoiceField(
                choices=choices_for(question),
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
            )
        elif kind == Question.Kind.LONG_TEXT:
            field = forms.CharField(
                max_length=LONG_TEXT_MAX,
                required=False,
                widget=forms.Textarea(attrs={"rows": 6, **described}),
            )
        else:
            field = forms.CharField(
                max_length=SHORT_TEXT_MAX,
                required=False,
                widget=forms.TextInput(attrs=described),
            )
        field.label = question.label
        field.error_messages["invalid_choice"] = _("“%(label)s”的答案不在选项中，请重新选择。") % {
            "label": question.label
        }
        if isinstance(field, forms.CharField):
            field.error_messages["max_length"] = _(
                "“%(label)s”最多 %(limit)s 个字，请删减一些。"
            ) % {"label": question.label, "limit": field.max_length}
        self.fields["answer"] = field

    @property
    def is_choice(self) -> bool:
        return self.question.kind in Question.NUMBER_KINDS

    @property
    def max_length(self) -> int | None:
        return getattr(self.fields["answer"], "max_length", None)

    def value(self):
        """The cleaned answer (int, list[int], stripped str), or None when empty."""
        value = self.cleaned_data.get("answer")
        if value in (None, "", []):
            return None
        return value

    def require(self) -> None:
        """Mark the (empty) answer of a required question as missing, naming it."""
        self.add_error(
            "answer", _("请回答“%(label)s”，这道题必答。") % {"label": self.question.label}
        )
