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

__all__ = ["mask_phone", "send_sms", "get_backend", "SMSMessage"]


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


def send_sms(*, phone: str, text: str) -> None:
    get_backend().send(SMSMessage(phone=phone, text=text))
