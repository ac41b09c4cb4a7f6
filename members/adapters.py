"""allauth adapter: phone numbers live on ``User.phone`` as 11 digits.

allauth (65.x) asks the project to store and look up phone numbers and to send
the codes. Codes, the texted answers and allauth's mails go through the outbox
like every other message (``members.services.account_message_send``: one
delivery row per message, sent by a worker after the commit, the code or link
kept out of the row). Two further adjustments:

- the failed-login rate limit is keyed by the phone number as well as the email
  (allauth keys it by email/username only, so every phone login would share
  one key), and hitting it answers HTTP 429 rather than a form error;
- usernames are random and carry no personal data (they appear in audit logs),
  so allauth never shows one: ``members.privacy.person_name`` (``ACCOUNT_USER_DISPLAY``) names
  the person by display name or masked phone, and the account mails say who
  they are from by the portal's name, not the server's host name.

The wording of allauth's pages, messages and mails comes from the portal's own
catalogue, locale/zh_Hans (scripts/zh_hans_catalogue.py, docs/ACCOUNTS.md).
"""

from __future__ import annotations

import re
import secrets
from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.conf import settings
from django.db import IntegrityError, transaction
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .services import account_message_send

#: With the cache down, a texted code cannot be sent (see _refuse_while_cache_is_down).
_SMS_DOWN = gettext_lazy("短信验证码服务暂时不可用，请稍后再试或使用密码登录。")
#: allauth mails someone asks for on a form (sign-in code, password reset, and the
#: "no such account" answer both give, so a refusal says nothing about the address);
#: a signup's confirmation mail is not refused (the account exists by then).
_MAILS_ASKED_FOR_ON_A_FORM = frozenset(
    {
        "account/email/login_code",
        "account/email/password_reset_key",
        "account/email/unknown_account",
    }
)

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
    # --- phone numbers -------------------------------------------------------
    def phone_form_field(self, **kwargs):
        # allauth passes label=_("Phone"); our Chinese label reads better.
        kwargs.pop("label", None)
        return ChinaMobileField(**kwargs)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        self._refuse_while_cache_is_down(_SMS_DOWN)
        account_message_send(kind="verification_code", phone=phone, code=code, user=user)

    def send_unknown_account_sms(self, phone: str, **kwargs) -> None:
        # Refused the same way as a known number's code: the answer must not
        # tell whether the number has an account.
        self._refuse_while_cache_is_down(_SMS_DOWN)
        account_message_send(kind="unknown_account", phone=phone)

    def send_account_already_exists_sms(self, phone: str) -> None:
        self._refuse_while_cache_is_down(_SMS_DOWN)
        account_message_send(kind="account_exists", phone=phone)

    def _refuse_while_cache_is_down(self, text: str) -> None:
        """A message's words wait in the cache for the worker that sends it
        (account_message_send): with Redis down the worker would find nothing
        and the person would wait for a code that never comes. Say so now and
        go back to the page they came from; allauth has stashed nothing yet
        (it persists the code's state after the send). docs/OPERATIONS.md, "outages"."""
        from alliance.cache import cache_available

        if cache_available():
            return
        from django.contrib import messages
        from django.shortcuts import redirect

        request = allauth_context.request
        if request is None:  # outside a request (a shell): nothing to answer
            from alliance.cache import CacheUnavailable

            raise CacheUnavailable("the cache is unavailable; no code can be sent")
        messages.error(request, text)
        raise ImmediateHttpResponse(redirect(request.get_full_path()))

    def set_phone(self, user, phone: str, verified: bool) -> None:
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def get_phone(self, user):
        if not user.phone:
            return None
        return user.phone, user.phone_verified

    def set_phone_verified(self, user, phone: str) -> None:
        # Called at signup (same number) and at the end of "change phone" (a new
        # number, verified by its code): either way the number becomes the user's.
        from .services import user_phone_changed

        old_phone = user.phone
        user.phone = phone
        user.phone_verified = True
        user.save(update_fields=["phone", "phone_verified"])
        if old_phone and old_phone != phone:
            user_phone_changed(user=user, old_phone=old_phone)

    def get_user_by_phone(self, phone: str):
        from .models import User

        normalised = normalise_cn_mobile(phone)
        if normalised is None:
            return None
        return User.objects.filter(phone=normalised).order_by("pk").first()

    def save_user(self, request, user, form, commit=True):
        # Two sign-ups with the same number sent at once (a double tap on a slow
        # network) both pass the form's "already registered" check; the unique
        # phone lets one in. The other is answered as a later sign-up with that
        # number is (allauth's "account already exists" path: a text to the
        # number, or 429 within the resend limit), and the savepoint takes its
        # half-made user row back with it.
        try:
            with transaction.atomic():
                return super().save_user(request, user, form, commit)
        except IntegrityError:
            from allauth.account.internal.flows.signup import prevent_enumeration

            from .models import User

            phone = form.cleaned_data.get("phone") if "phone" in form.cleaned_data else None
            if not phone or not User.objects.filter(phone=phone).exists():
                raise
            response = prevent_enumeration(
                request, email=form.cleaned_data.get("email") or None, phone=phone
            )
            raise ImmediateHttpResponse(response) from None

    # --- account mails: from the portal, by name ------------------------------
    def format_email_subject(self, subject: str) -> str:
        # allauth's default prefix is the server's host name ("[127.0.0.1:8000]").
        return f"【{settings.PORTAL_NAME}】{subject}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth's mail templates greet with current_site.name and sign with
        # current_site.domain; without django.contrib.sites those are the host name.
        portal = SimpleNamespace(
            name=str(settings.PORTAL_NAME), domain=urlsplit(settings.PORTAL_BASE_URL).netloc
        )
        # Rendered here, as allauth's own send_mail does (the request's language
        # and links), then handed to the outbox instead of being sent on the spot.
        if template_prefix in _MAILS_ASKED_FOR_ON_A_FORM:
            self._refuse_while_cache_is_down(_("邮件暂时无法发送，请稍后再试。"))
        request = allauth_context.request
        message = self.render_mail(
            template_prefix,
            email,
            {"request": request, "email": email, "current_site": portal, **context},
        )
        html = ""
        body = message.body
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        if message.content_subtype == "html":  # a mail with an HTML template only
            html, body = message.body, ""
        account_message_send(
            kind="mail",
            email=email,
            user=context.get("user"),
            mail={
                "template": template_prefix,
                "subject": message.subject,
                "body": body,
                "html": html,
                "from_email": message.from_email,
            },
        )

    # --- usernames carry no personal data ------------------------------------
    def populate_username(self, request, user) -> None:
        if not user.username:
            user.username = f"u{secrets.token_hex(6)}"

    # --- rate limits -------------------------------------------------------------
    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        phone = normalise_cn_mobile(credentials.get("phone") or "")
        login = (credentials.get("email") or phone or credentials.get("username") or "").lower()
        return f"portal:{login}"

    def pre_authenticate(self, request, **credentials) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError as exc:
            # Too many failed attempts: refuse with 429, as for every other limit.
            response = render(request, "429.html", status=429)
            raise ImmediateHttpResponse(response) from exc
