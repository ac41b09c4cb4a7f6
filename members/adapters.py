"""allauth adapter: phone numbers live on ``User.phone`` as 11 digits."""

from __future__ import annotations

import re

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .sms import send_sms

_CN_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def normalise_cn_mobile(value: str) -> str | None:
    """'+86 138-1234-1234' → '13812341234'; None if it is not a mainland mobile."""
    compact = re.sub(r"[\s\-()]", "", value or "")
    match = _CN_MOBILE.match(compact)
    return match.group(1) if match else None


class ChinaMobileField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", gettext_lazy("手机号码"))
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "type": "tel",
                    "autocomplete": "tel",
                    "inputmode": "numeric",
                    "placeholder": gettext_lazy("11位手机号码"),
                }
            ),
        )
        kwargs.pop("validators", None)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        phone = normalise_cn_mobile(value)
        if phone is None:
            raise forms.ValidationError(_("请输入11位中国大陆手机号码，例如 13812341234。"))
        return phone


class AccountAdapter(DefaultAccountAdapter):
    def phone_form_field(self, **kwargs):
        return ChinaMobileField(**kwargs)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        send_sms(
            phone=phone,
            text=_("【协同育人门户】您的验证码是 %(code)s，10分钟内有效。") % {"code": code},
        )

    def send_unknown_account_sms(self, phone: str, **kwargs) -> None:
        send_sms(phone=phone, text=_("【协同育人门户】该手机号尚未注册，请先注册账号。"))

    def send_account_already_exists_sms(self, phone: str) -> None:
        send_sms(phone=phone, text=_("【协同育人门户】该手机号已注册，请直接登录。"))

    def set_phone(self, user, phone: str, verified: bool) -> None:
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def get_phone(self, user):
        if not user.phone:
            return None
        return user.phone, user.phone_verified

    def set_phone_verified(self, user, phone: str) -> None:
        if user.phone == phone:
            user.phone_verified = True
            user.save(update_fields=["phone_verified"])

    def get_user_by_phone(self, phone: str):
        from .models import User

        normalised = normalise_cn_mobile(phone) or phone
        return User.objects.filter(phone=normalised).order_by("pk").first()
