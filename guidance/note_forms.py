"""Forms of the notes panel and the follow-ups (fields in, services decide)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import FollowUp, Note


class NoteForm(forms.Form):
    """A note on a consultation, at one of the levels the writer may use."""

    level = forms.ChoiceField(
        label=_("记录级别"),
        help_text=_(
            "共享摘要家庭可以看到；导师私密记录只有本案导师和首席导师能看；"
            "限阅记录只有您和首席导师能看。"
        ),
    )
    body = forms.CharField(
        label=_("内容"),
        # Empty and too long are the service's refusals (one message for every channel).
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=settings.GUIDANCE_NOTE_MAX_CHARS + 1000,
    )
    note_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, levels=(), consultation_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.consultation_id = consultation_id
        self.fields["level"].choices = [(v, Note.Level(v).label) for v in levels]


class FollowUpForm(forms.Form):
    due_at = forms.DateTimeField(
        label=_("提醒时间"),
        help_text=_("到时会提醒家庭，例如 2026-03-05 15:00。"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    message = forms.CharField(
        label=_("提醒内容（家庭会看到）"),
        help_text=_("写给家庭的话，例如“两周后我们再聊聊孩子的作息”。请不要写咨询记录的内容。"),
        required=False,
        max_length=FollowUp._meta.get_field("message").max_length,
    )
