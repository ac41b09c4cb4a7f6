"""Forms of the board pages. They only read and shape what was typed; every rule
(who may post, lengths, images, mutes, moderation) is community.services', whose
CommunityError is shown on the field it names (community/views.py)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Decision, Post, Report, Thread

# Browsers hold the lengths too, so a phone keyboard stops where the service would.
TITLE_MAX = 80
REASON_MAX = 200
NICKNAME_MAX = 12
MUTE_DAYS_MAX = 90
HOLD_FIRST_POSTS_MAX = 20


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImagesField(forms.FileField):
    """Up to COMMUNITY_POST_MAX_IMAGES pictures; members.photos (in the service)
    checks and re-encodes each."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", MultipleImageInput(attrs={"accept": "image/*", "multiple": True})
        )
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(ImagesField, self).clean(f, initial) for f in files if f]


def _images_help():
    return _("可选，最多 %(n)s 张。照片会缩小并去掉拍摄地点等信息。") % {
        "n": settings.COMMUNITY_POST_MAX_IMAGES
    }


class ThreadForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), widget=forms.RadioSelect)
    title = forms.CharField(
        label=_("标题"),
        max_length=TITLE_MAX,
        help_text=_("4–80 个字，说清楚想问或想分享什么。"),
    )
    body = forms.CharField(
        label=_("内容"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("请勿填写手机号、孩子姓名等个人信息。网址会自动变成链接。"),
    )
    images = ImagesField(label=_("图片"))

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Thread.Kind.choices)
        self.fields["kind"].choices = [(k, labels[k]) for k in kinds]
        if kinds:
            self.fields["kind"].initial = kinds[0]
        self.fields["body"].max_length = settings.COMMUNITY_POST_MAX_CHARS
        self.fields["body"].widget.attrs["maxlength"] = settings.COMMUNITY_POST_MAX_CHARS
        self.fields["images"].help_text = _images_help()


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("回复内容"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("请勿填写手机号、孩子姓名等个人信息。"),
    )
    images = ImagesField(label=_("图片"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].max_length = settings.COMMUNITY_POST_MAX_CHARS
        self.fields["body"].widget.attrs["maxlength"] = settings.COMMUNITY_POST_MAX_CHARS
        self.fields["images"].help_text = _images_help()


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("举报原因"), choices=Report.Reason.choices, widget=forms.RadioSelect
    )
    detail = forms.CharField(
        label=_("补充说明"),
        max_length=REASON_MAX,
        required=False,
        help_text=_("可不填。举报人不会告诉发帖人。"),
    )


class DecideForm(forms.Form):
    """A moderator's decision on one post (the queue shows one per post)."""

    action = forms.ChoiceField(label=_("处理"), widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("理由"),
        max_length=REASON_MAX,
        required=False,
        help_text=_("隐藏、警告和禁言必须写明理由，会告诉发帖人。"),
    )
    mute_days = forms.IntegerField(
        label=_("禁言天数"),
        min_value=1,
        max_value=MUTE_DAYS_MAX,
        required=False,
        help_text=_("选择禁言时填写，1–90 天。"),
    )

    def __init__(self, *args, post: Post | None = None, **kwargs):
        prefix = kwargs.pop("prefix", None) or (f"p{post.pk}" if post is not None else None)
        super().__init__(*args, prefix=prefix, **kwargs)
        actions = [Decision.Action.APPROVE, Decision.Action.HIDE, Decision.Action.WARN]
        actions.append(Decision.Action.MUTE)
        if post is None or getattr(post, "open_reports", None) or post.report_count:
            actions.append(Decision.Action.DISMISS)
        labels = dict(Decision.Action.choices)
        self.fields["action"].choices = [(a.value, labels[a]) for a in actions]


class ProfileForm(forms.Form):
    nickname = forms.CharField(
        label=_("交流区昵称"),
        max_length=NICKNAME_MAX,
        help_text=_("2–12 个字。其他家长只看到这个昵称和学校，看不到您的手机号和孩子的名字。"),
    )
    daily_digest = forms.BooleanField(
        label=_("交流区通知每天汇总一次"),
        required=False,
        help_text=_("勾选后，回复和审核结果在每天晚上合成一条通知发给您。"),
    )


class SearchForm(forms.Form):
    q = forms.CharField(label=_("搜索帖子"), max_length=50, required=False)


class QueueFilterForm(forms.Form):
    board = forms.TypedChoiceField(label=_("交流区"), coerce=int, required=False, empty_value=None)
    reason = forms.ChoiceField(
        label=_("原因"),
        required=False,
        choices=[
            ("", _("全部")),
            ("sensitive", _("含敏感词")),
            ("new_member", _("新成员帖子")),
            ("cloud", _("内容安全检查")),
            ("reports", _("有人举报")),
        ],
    )

    def __init__(self, *args, boards=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["board"].choices = [("", _("全部交流区"))] + [(b.pk, b.title) for b in boards]

    def filters(self) -> dict:
        if not self.is_valid():
            return {"board_id": None, "reason": ""}
        return {
            "board_id": self.cleaned_data["board"],
            "reason": self.cleaned_data["reason"],
        }


class BoardSettingsForm(forms.Form):
    hold_first_posts = forms.IntegerField(
        label=_("新成员前几条帖子先审后发"),
        min_value=0,
        max_value=HOLD_FIRST_POSTS_MAX,
        help_text=_("0 表示不启用。"),
    )
