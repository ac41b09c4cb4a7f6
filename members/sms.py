"""A small SMS backend interface.

The portal sends texts (sign-in codes, reminders) through ``send_sms``; which
provider carries them is chosen by settings alone:

- ``members.sms.ConsoleSMSBackend`` (default) writes each message to the log
  and the console, for development and `make run`.
- ``members.sms.HttpApiSMSBackend`` posts JSON to a provider's HTTP gateway
  configured in ``SMS_OPTIONS`` (url, api_key, sign_name); it shows how a real
  provider plugs in.
- ``members.sms.LocmemSMSBackend`` keeps messages in memory for tests.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("members.sms")


@dataclass(frozen=True)
class SMSMessage:
    phone: str
    text: str


class BaseSMSBackend:
    def __init__(self, **options):
        self.options = options

    def send(self, message: SMSMessage) -> None:
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    def send(self, message: SMSMessage) -> None:
        line = f"[SMS to {message.phone}] {message.text}"
        logger.info(line)
        print(line, file=sys.stdout, flush=True)


class LocmemSMSBackend(BaseSMSBackend):
    outbox: list[SMSMessage] = []

    def send(self, message: SMSMessage) -> None:
        LocmemSMSBackend.outbox.append(message)


class HttpApiSMSBackend(BaseSMSBackend):
    """Posts ``{"phone", "text", "sign"}`` to ``SMS_OPTIONS["url"]`` with a bearer key."""

    def send(self, message: SMSMessage) -> None:
        payload = json.dumps(
            {
                "phone": message.phone,
                "text": message.text,
                "sign": self.options.get("sign_name", ""),
            }
        ).encode()
        request = urllib.request.Request(
            self.options["url"],
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.options.get('api_key', '')}",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.options.get("timeout", 5)) as response:
            if response.status >= 300:
                raise RuntimeError(f"SMS gateway answered {response.status}")


def get_backend() -> BaseSMSBackend:
    return import_string(settings.SMS_BACKEND)(**settings.SMS_OPTIONS)


def send_sms(*, phone: str, text: str) -> None:
    get_backend().send(SMSMessage(phone=phone, text=text))
