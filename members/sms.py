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

import http.client
import json
import logging
import os
import select
import socket
import sys
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from .privacy import mask_phone

logger = logging.getLogger("members.sms")

__all__ = [
    "mask_phone",
    "send_sms",
    "send_sms_many",
    "sms_signed",
    "sms_segments",
    "get_backend",
    "SMSMessage",
    "SMSDeliveryError",
    "SMSOutcomeUnknown",
    "SMSNotTried",
]

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

    def send_many(self, messages: list[SMSMessage]) -> list[Exception | None]:
        """Send several texts; one result per message, in order: ``None`` (sent),
        :class:`SMSOutcomeUnknown` (the answer was lost: it may have gone),
        :class:`SMSNotTried` (never offered to the gateway) or the error that
        one met (refused). This default sends them one by one; a gateway with a
        batch API takes them in one request."""
        results: list[Exception | None] = []
        for index, message in enumerate(messages):
            try:
                self.send(message)
            except SMSOutcomeUnknown as error:
                results.append(error)
                results.extend(
                    SMSNotTried("not sent: the gateway stopped answering")
                    for _rest in messages[index + 1 :]
                )
                break
            except Exception as error:
                results.append(error)
            else:
                results.append(None)
        return results


class ConsoleSMSBackend(BaseSMSBackend):
    """Development backend: the text (with its code) goes to the console; the log
    gets only the masked number and the length, never a code.

    The number is masked so that console logs hold no full phone numbers.
    """

    def send(self, message: SMSMessage) -> None:
        line = f"[SMS to {mask_phone(message.phone)}] {message.text}"
        logger.info("SMS to %s (%s characters)", mask_phone(message.phone), len(message.text))
        print(line, file=sys.stdout, flush=True)


class LocmemSMSBackend(BaseSMSBackend):
    """Test backend: messages are appended to the class-level ``outbox``."""

    outbox: list[SMSMessage] = []

    def send(self, message: SMSMessage) -> None:
        LocmemSMSBackend.outbox.append(message)

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()


class SMSOutcomeUnknown(SMSDeliveryError):
    """The request reached the gateway but no answer came back (a timeout or a
    dropped connection): the text may or may not have gone out. The outbox does
    not send it again (at most once, as for email; see docs/EVENTS.md)."""


class SMSNotTried(SMSDeliveryError):
    """Never offered to the gateway (an earlier text of the batch lost its answer)."""


# One keep-alive connection per gateway, per process and thread: a worker sends
# a batch of texts over one TCP connection instead of one connection per text.
# (Keyed by the process id as well: a prefork child never reuses its parent's socket.)
_connections = threading.local()


class _NoDelay:
    """TCP_NODELAY on connect (as urllib3 does): small requests and answers on a
    kept-alive connection must not wait for delayed ACKs (Nagle's algorithm)."""

    def connect(self):
        super().connect()
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class _HTTPConnection(_NoDelay, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_NoDelay, http.client.HTTPSConnection):
    pass


def _pooled_connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SMSDeliveryError(f"SMS_OPTIONS['url'] is not an http(s) URL: {url!r}")
    pool = getattr(_connections, "pool", None)
    if pool is None or getattr(_connections, "pid", None) != os.getpid():
        pool = _connections.pool = {}
        _connections.pid = os.getpid()
    key = (parts.scheme, parts.netloc, timeout)
    connection = pool.get(key)
    if connection is not None and _dropped(connection):
        connection.close()
        connection = None
    if connection is None:
        cls = _HTTPSConnection if parts.scheme == "https" else _HTTPConnection
        connection = cls(parts.hostname, parts.port, timeout=timeout)
        pool[key] = connection
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return connection, path


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Has the gateway closed the idle connection? (A readable idle socket means
    end of file: reconnect before writing rather than guess after.)"""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _w, _x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _forget(url: str, timeout: float) -> None:
    parts = urlsplit(url)
    connection = getattr(_connections, "pool", {}).pop((parts.scheme, parts.netloc, timeout), None)
    if connection is not None:
        connection.close()


class HttpApiSMSBackend(BaseSMSBackend):
    """Posts ``{"phone", "text", "sign"}`` as JSON to ``SMS_OPTIONS["url"]``.

    Configure by settings alone, for example::

        SMS_BACKEND=members.sms.HttpApiSMSBackend
        SMS_OPTIONS={"url": "https://sms.example.cn/send", "api_key": "…", "sign_name": "协同育人门户"}

    Texts go over one pooled keep-alive connection per process (HTTP/1.1). A
    refusal (an answer of 300 or more) or a connection that could not take the
    request raises :class:`SMSDeliveryError` (retry); a request whose answer was
    lost raises :class:`SMSOutcomeUnknown`.

    A real provider's SDK plugs in the same way: subclass ``BaseSMSBackend``
    and name the class in ``SMS_BACKEND``.
    """

    def _post(self, url: str, payload: dict) -> tuple[int, bytes]:
        """POST ``payload`` as JSON over the pooled connection: (status, body).

        Raises :class:`SMSDeliveryError` when the request could not be written,
        :class:`SMSOutcomeUnknown` when it was but no answer came back."""
        timeout = self.options.get("timeout", 5)
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {self.options.get('api_key', '')}",
        }
        connection, path = _pooled_connection(url, timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
        except OSError as exc:  # refused, unreachable, reset before the request was written
            _forget(url, timeout)
            raise SMSDeliveryError(f"SMS gateway failed: {exc}") from exc
        try:
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:
            _forget(url, timeout)
            raise SMSOutcomeUnknown(f"SMS gateway did not answer: {exc}") from exc
        if response.will_close:
            _forget(url, timeout)
        return response.status, answer

    def send(self, message: SMSMessage) -> None:
        url = self.options.get("url")
        if not url:
            raise SMSDeliveryError("SMS_OPTIONS['url'] is not set")
        sign = self.options.get("sign_name", "")
        status, _answer = self._post(
            url, {"phone": message.phone, "text": message.text, "sign": sign}
        )
        if status >= 300:
            raise SMSDeliveryError(f"SMS gateway answered {status}")

    def send_many(self, messages: list[SMSMessage]) -> list[Exception | None]:
        """With ``SMS_OPTIONS["batch_url"]``, up to a send task's texts in one
        request ``{"sign", "messages": [{"phone", "text"}, …]}``, answered with a
        status per message ``{"results": [{"code": 0}, {"code": 15, "message": …}, …]}``
        (code 0: accepted), as providers' batch APIs do; without it, one request
        per text over the pooled connection."""
        batch_url = self.options.get("batch_url")
        if not batch_url or not messages:
            return super().send_many(messages)
        payload = {
            "sign": self.options.get("sign_name", ""),
            "messages": [{"phone": m.phone, "text": m.text} for m in messages],
        }
        try:
            status, body = self._post(batch_url, payload)
        except SMSDeliveryError as error:  # not written, or no answer: the same for all
            return [error] * len(messages)
        if status >= 300:
            return [SMSDeliveryError(f"SMS gateway answered {status}")] * len(messages)
        try:
            results = json.loads(body)["results"]
            if len(results) != len(messages):
                raise ValueError("a different number of statuses")
        except (ValueError, KeyError, TypeError) as exc:
            unknown = SMSOutcomeUnknown(f"SMS gateway answered without statuses: {exc}")
            return [unknown] * len(messages)
        return [
            None
            if result.get("code") == 0
            else SMSDeliveryError(
                f"SMS gateway refused: {result.get('code')} {result.get('message', '')}".strip()
            )
            for result in results
        ]


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


def send_sms_many(texts: list[tuple[str, str]]) -> list[Exception | None]:
    """Send (phone, text) pairs, each signed, in as few requests as the backend
    allows (``BaseSMSBackend.send_many``); one result per text, in order."""
    messages = [SMSMessage(phone=phone, text=sms_signed(text)) for phone, text in texts]
    return get_backend().send_many(messages)
