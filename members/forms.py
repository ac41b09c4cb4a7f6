"""Forms of the members app: sign-up, the guardian profile, children, invitations."""

from __future__ import annotations

import time

from allauth.account.forms import ChangePasswordForm, SignupForm
from allauth.core import context
from django import forms
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import selectors
from .adapters import ChinaMobileField
from .models import ApiToken, ConsentRecord, Guardian, MemberUnit, SchoolStage


class PortalSignupForm(SignupForm):
    """allauth's sign-up form: a phone number or an email (at least one) and a password,
    and agreement to the privacy policy, which is recorded."""

    agree_privacy = forms.BooleanField(
        label=_("我已阅读并同意《隐私政策》"),
        required=True,
        error_messages={"required": _("请阅读并同意《隐私政策》后再注册。")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "phone" in self.fields:
            self.fields["phone"].help_text = _("推荐用手机号注册：登录和接收验证码都更方便。")
        if "email" in self.fields:
            self.fields["email"].label = _("电子邮箱（可不填）")
        self.fields["agree_privacy"].help_text = format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse_lazy("members:privacy"),
            _("阅读《隐私政策》"),
        )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("phone") and not cleaned.get("email") and not self.errors:
            raise forms.ValidationError(_("请填写手机号码或电子邮箱（至少一项）。"))
        return cleaned

    def signup(self, request, user) -> None:
        from .services import consent_record

        consent_record(
            user=user,
            document=ConsentRecord.Document.PRIVACY,
            ip_address=request.META.get("REMOTE_ADDR"),
        )


# How long after signing in with a texted code the password may be changed
# without the old one: the code proved the phone, like a reset link proves the email.
CODE_LOGIN_GRACE_SECONDS = 15 * 60


def signed_in_by_code_recently(request, user) -> bool:
    # allauth keeps a log of this session's authentications (method, at); the
    # reading function lives in its internal package, so a test guards it.
    from allauth.account.internal.flows.login import get_authentication_records

    records = get_authentication_records(request, user) if request is not None else []
    if not records:
        return False
    last = records[-1]
    return last.get("method") == "code" and time.time() - last.get("at", 0) < (
        CODE_LOGIN_GRACE_SECONDS
    )


class PortalChangePasswordForm(ChangePasswordForm):
    """allauth's change-password form; right after a sign-in by texted code the old
    password is not asked for, so a phone-only parent who forgot it can set a new one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.without_old_password = signed_in_by_code_recently(
            getattr(context, "request", None), self.user
        )
        if self.without_old_password:
            del self.fields["oldpassword"]


class GuardianForm(forms.Form):
    display_name = forms.CharField(
        label=_("您的称呼（可不填）"),
        max_length=50,
        required=False,
        help_text=_("例如“小雨妈妈”。邀请家人时会显示这个称呼。"),
    )
    relation = forms.ChoiceField(label=_("您与孩子的关系"), choices=Guardian.Relation.choices)
    phone = ChinaMobileField(label=_("联系电话"), required=False)
    home_community = forms.ModelChoiceField(
        label=_("所在社区"),
        queryset=selectors.community_regions(),
        required=False,
        empty_label=_("（请选择）"),
        help_text=_("用于推荐您附近的家长学校和活动。"),
    )


class ChildForm(forms.Form):
    nickname = forms.CharField(
        label=_("孩子的昵称"),
        max_length=20,
        help_text=_("小名即可，不需要真实姓名。"),
    )
    birth_year = forms.TypedChoiceField(label=_("出生年份"), coerce=int)
    stage = forms.ChoiceField(
        label=_("学段"),
        required=False,
        help_text=_("留空则按出生年份自动推荐，之后可以修改。"),
    )
    school = forms.ModelChoiceField(
        label=_("就读学校或幼儿园"),
        queryset=selectors.school_units(),
        required=False,
        empty_label=_("（暂不填写）"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        this_year = timezone.localdate().year
        self.fields["birth_year"].choices = [("", _("（请选择）"))] + [
            (year, str(year)) for year in range(this_year, this_year - 21, -1)
        ]
        self.fields["stage"].choices = [("", _("按出生年份自动推荐"))] + list(SchoolStage.choices)


class InvitationForm(forms.Form):
    relation = forms.ChoiceField(
        label=_("TA与孩子的关系"),
        choices=Guardian.Relation.choices,
        initial=Guardian.Relation.GRANDPARENT,
    )
    phone = ChinaMobileField(label=_("TA的手机号码"), required=False)
    email = forms.EmailField(label=_("或TA的电子邮箱"), required=False)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and bool(cleaned.get("phone")) == bool(cleaned.get("email")):
            raise forms.ValidationError(_("请填写手机号码或电子邮箱中的一项。"))
        return cleaned


class ConfirmDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("我明白：注销后我的账号和个人信息将被删除，无法恢复。"),
        required=True,
        error_messages={"required": _("请勾选确认后再注销。")},
    )


class ApiTokenForm(forms.Form):
    """A new API token on the security page (members:api_tokens). For a
    coordinator, choosing a unit makes a check-in device token for it instead."""

    # Which field each refusal of members.services.api_token_create is about.
    SERVICE_ERROR_FIELDS = {
        "token_name_required": "name",
        "token_bad_scopes": "scopes",
        "token_device_scopes": "scopes",
        "token_device_unit": "unit",
        "token_too_many": None,
    }

    name = forms.CharField(
        label=_("名称"),
        max_length=60,
        required=False,
        help_text=_("写明给谁用，便于以后认出它，例如“家里的平板”或“小程序”。"),
    )
    scopes = forms.MultipleChoiceField(
        label=_("允许它做什么"),
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[ApiToken.Scope.READ],
    )
    unit = forms.ModelChoiceField(
        label=_("签到设备"),
        queryset=MemberUnit.objects.none(),
        required=False,
        empty_label=_("（不是签到设备）"),
        help_text=_(
            "选一个您管理的单位，就生成该单位的签到设备令牌：只能为本单位的场次和活动签到。"
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from . import access

        if access.is_coordinator(user):
            self.fields["unit"].queryset = access.units_changeable_by(user).order_by("name", "pk")
        else:
            del self.fields["unit"]

    def token_scopes(self) -> list[str]:
        """A device token only ever checks in, whatever boxes were ticked."""
        if self.cleaned_data.get("unit") is not None:
            return [ApiToken.Scope.CHECKIN]
        return list(self.cleaned_data.get("scopes") or [])
