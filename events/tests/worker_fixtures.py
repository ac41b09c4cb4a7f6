"""Fixtures for reminder tests through the real parts: a Celery worker on the
real Redis broker whose email goes to an aiosmtpd server started by the test.

Import them into a test module: ``from events.tests.worker_fixtures import *``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy

import pytest

__all__ = ["reminder_worker", "gated_smtp_server", "reminder_worker_gated", "decoded"]


class GatedCollector:
    """Collects messages; once ``gate_after`` have arrived, it accepts each further
    message at its final ``.`` but holds the 250 reply until ``opened`` is set.

    That is how real MTAs behave (Postfix and Exim queue the message when the
    final dot arrives, then answer; RFC 1047): the sender cannot know whether a
    message whose reply it never saw was delivered. A sender that re-sends
    such messages delivers them twice.
    """

    def __init__(self):
        self.messages: list[bytes] = []
        self.gate_after: int | None = None
        self.opened = threading.Event()
        self.waiting = 0

    async def handle_DATA(self, server, session, envelope):
        held = self.gate_after is not None and len(self.messages) >= self.gate_after
        self.messages.append(envelope.original_content or envelope.content)
        if held:
            self.waiting += 1
            while not self.opened.is_set():
                await asyncio.sleep(0.02)
            self.waiting -= 1
        return "250 Message accepted for delivery"


@pytest.fixture
def gated_smtp_server():
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = GatedCollector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    controller.handler_state = handler
    try:
        yield controller
    finally:
        handler.opened.set()
        controller.stop()


def _point_worker_at(monkeypatch, settings, port: int) -> None:
    # The worker reads these from its environment (alliance/settings/test.py
    # honours TEST_EMAIL_BACKEND); this process gets the same through settings.
    backend = "django.core.mail.backends.smtp.EmailBackend"
    monkeypatch.setenv("TEST_EMAIL_BACKEND", backend)
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.example.cn")
    settings.EMAIL_BACKEND = backend
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.PORTAL_BASE_URL = "https://portal.example.cn"


@pytest.fixture
def reminder_worker(transactional_db, request, smtp_server, monkeypatch, settings):
    """A real worker whose mail goes to the ``smtp_server`` fixture."""
    _point_worker_at(monkeypatch, settings, smtp_server.port)
    return request.getfixturevalue("celery_worker_process")


@pytest.fixture
def reminder_worker_gated(transactional_db, request, gated_smtp_server, monkeypatch, settings):
    """A real worker whose mail goes to the gated SMTP server."""
    _point_worker_at(monkeypatch, settings, gated_smtp_server.port)
    return request.getfixturevalue("celery_worker_process")


def decoded(message) -> tuple[str, str]:
    """(subject, plain text) of a message collected by an SMTP fixture."""
    if isinstance(message, bytes | bytearray):
        message = message_from_bytes(bytes(message), policy=policy.default)
    else:
        message = message_from_bytes(message.as_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    return str(message["subject"]).strip(), body.get_content() if body is not None else ""
