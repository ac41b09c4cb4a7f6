"""A small SMS backend interface.

The portal sends texts (sign-in codes, co-guardian invitations, reminders)
through ``send_sms``; which provider carries them is chosen by settings alone:

- ``members.sms.ConsoleSMSBackend`` (default) writes each message to the log
  and the console, for development and `make run`.
- ``members.sms.HttpApiSMSBackend`` posts JSON to a provider's HTTP gateway
  configured in ``SMS_OPTIONS`` (url, api_key, sign_name, timeout); it shows how
  a real provider plugs in.
- ``members.sms.LocmemSMSBackend`` keeps messages in memory for tests.

A backend is any class with ``__init__(**options)`` and ``send(message)``;
``send`` raises on failure so that a Celery task can retry.

Every text starts with the signature ``SMS_SIGNATURE`` (「【协同育人门户】」 by
default): providers in mainland China refuse unsigned messages. ``send_sms``
applies it, once, whatever the caller wrote (see :func:`sms_signed`), so no
caller writes the signature itself.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from .privacy import mask_phone

logger = logging.getLogger("members.sms")

__all__ = ["mask_phone", "send_sms", "sms_signed", "sms_segments", "get_backend", "SMSMessage"]

#: The signature texts carried before SMS_SIGNATURE was a setting; a text that
#: still starts with it gets the configured one instead, never both.
DEFAULT_SMS_SIGNATURE = "【协同育人门户】"


@dataclass(frozen=True)
class SMSMessage:
    phone: str
    text: str


class SMSDeliveryError(RuntimeError):
    """The provider refused or could not be reached; the caller may retry."""


class BaseSMSBackend:
    def __init__(self, **options):
        self.options = options

    def send(self, message: SMSMessage) -> None:
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    """Development backend: the text (with its code) goes to the console and the log.

    The number is masked so that console logs hold no full phone numbers.
    """

    def send(self, message: SMSMessage) -> None:
        line = f"[SMS to {mask_phone(message.phone)}] {message.text}"
        logger.info(line)
        print(line, file=sys.stdout, flush=True)


class LocmemSMSBackend(BaseSMSBackend):
    """Test backend: messages are appended to the class-level ``outbox``."""

    outbox: list[SMSMessage] = []

    def send(self, message: SMSMessage) -> None:
        LocmemSMSBackend.outbox.append(message)

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()


class HttpApiSMSBackend(BaseSMSBackend):
    """Posts ``{"phone", "text", "sign"}`` as JSON to ``SMS_OPTIONS["url"]``.

    Configure by settings alone, for example::

        SMS_BACKEND=members.sms.HttpApiSMSBackend
        SMS_OPTIONS={"url": "https://sms.example.cn/send", "api_key": "…", "sign_name": "协同育人门户"}

    A real provider's SDK plugs in the same way: subclass ``BaseSMSBackend``
    and name the class in ``SMS_BACKEND``.
    """

    def send(self, message: SMSMessage) -> None:
        url = self.options.get("url")
        if not url:
            raise SMSDeliveryError("SMS_OPTIONS['url'] is not set")
        payload = json.dumps(
            {
                "phone": message.phone,
                "text": message.text,
                "sign": self.options.get("sign_name", ""),
            },
            ensure_ascii=False,
        ).encode()
        request = urllib.request.Request(
            url,
            data=payload,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {self.options.get('api_key', '')}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - the URL comes from settings
                request, timeout=self.options.get("timeout", 5)
            ) as response:
                status = response.status
        except OSError as exc:  # URLError, HTTPError, timeouts
            raise SMSDeliveryError(f"SMS gateway failed: {exc}") from exc
        if status >= 300:
            raise SMSDeliveryError(f"SMS gateway answered {status}")


def get_backend() -> BaseSMSBackend:
    return import_string(settings.SMS_BACKEND)(**settings.SMS_OPTIONS)


def sms_signed(text: str) -> str:
    """``text`` with the configured signature in front, exactly once.

    A text that already starts with the configured signature (or with the old
    built-in one) is not signed again; an empty ``SMS_SIGNATURE`` sends the
    text unsigned, for a provider that adds its own.
    """
    signature = getattr(settings, "SMS_SIGNATURE", DEFAULT_SMS_SIGNATURE) or ""
    body = (text or "").strip()
    for known in dict.fromkeys([signature, DEFAULT_SMS_SIGNATURE]):
        if known and body.startswith(known):
            body = body[len(known) :].lstrip()
            break
    return f"{signature}{body}"


def sms_segments(text: str) -> int:
    """How many messages the provider bills for ``text``: Chinese text is sent as
    UCS-2, 70 characters in one message, 67 per part when it is split."""
    length = len(text)
    if length <= 70:
        return 1
    return -(-length // 67)


def send_sms(*, phone: str, text: str) -> None:
    """Send one text, signed (the one rule for the signature)."""
    get_backend().send(SMSMessage(phone=phone, text=sms_signed(text)))
