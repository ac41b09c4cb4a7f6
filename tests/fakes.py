"""Local stand-ins for the servers the portal talks to, for tests and the bench.

- :func:`smtp_server` starts a real SMTP server (aiosmtpd) on a free local port;
  a handler decides what it keeps.
- :class:`SmsGateway` is a local HTTP/1.1 gateway (keep-alive) that speaks what
  ``members.sms.HttpApiSMSBackend`` posts: JSON ``{phone, text, sign}``.

The pytest fixtures (conftest.py ``smtp_server``, the SMS gateway of
tests/integration/test_phone_only_parent.py) and bench/reminders.py use these.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "EnvelopeCounter",
    "MessageCollector",
    "SmsGateway",
    "free_port",
    "smtp_server",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MessageCollector:
    """Keeps every message parsed (``email.message.Message``) in ``.messages``."""

    def __init__(self):
        from aiosmtpd.handlers import Message

        collector = self

        class _Handler(Message):
            def handle_message(self, message):
                collector.messages.append(message)

        self.messages: list = []
        self.handler = _Handler()


class EnvelopeCounter:
    """Counts messages per recipient without parsing them (cheap enough for a
    bench of 100,000 messages): ``.recipients`` is a Counter of RCPT addresses."""

    def __init__(self):
        self.recipients: Counter = Counter()
        self.peers: set = set()  # one (host, port) per SMTP connection
        self.count = 0
        self.handler = self

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.recipients.update(envelope.rcpt_tos)
        self.peers.add(session.peer)
        self.count += 1
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(keeper=None):
    """A started aiosmtpd ``Controller`` (``.port``) whose handler is ``keeper``
    (default :class:`MessageCollector`); ``.keeper`` is the keeper, and
    ``.messages`` its messages when it keeps them."""
    from aiosmtpd.controller import Controller

    keeper = keeper if keeper is not None else MessageCollector()
    controller = Controller(keeper.handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.keeper = keeper
    if hasattr(keeper, "messages"):
        controller.messages = keeper.messages
    try:
        yield controller
    finally:
        controller.stop()


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many texts
    # Answer at once, as a real gateway does (headers and body are two writes here).
    disable_nagle_algorithm = True

    def do_POST(self):  # noqa: N802 - the http.server name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        if self.path.endswith("/send-batch"):
            return self._batch(json.loads(body), auth)
        message = json.loads(body)
        message["auth"] = auth
        refused = message.get("phone") in self.server.refuse
        with self.server.lock:
            if not refused:
                self.server.received.append(message)
            self.server.connections.add(self.client_address)
        answer = b'{"code": 1, "message": "refused"}' if refused else b'{"code": 0}'
        self._answer(500 if refused else 200, answer)

    def do_GET(self):  # noqa: N802 - the http.server name
        """``/inbox?phone=…``: the texts kept for a phone, as a phone's SMS inbox would
        show them (scripts/miniprogram_client.py reads its sign-in code there)."""
        url = urlsplit(self.path)
        if url.path != "/inbox":
            return self._answer(404, b'{"code": 404}')
        phone = parse_qs(url.query).get("phone", [None])[0]
        texts = self.server.texts(phone)
        self._answer(200, json.dumps({"texts": texts}, ensure_ascii=False).encode())

    def _batch(self, batch: dict, auth: str) -> None:
        """``{"sign", "messages": [{"phone", "text"}]}`` → a status per message."""
        results = []
        with self.server.lock:
            self.server.batches += 1
            self.server.connections.add(self.client_address)
            for message in batch["messages"]:
                if message["phone"] in self.server.refuse:
                    results.append({"code": 15, "message": "号码无效"})
                    continue
                self.server.received.append(
                    {**message, "sign": batch.get("sign", ""), "auth": auth}
                )
                results.append({"code": 0})
        self._answer(200, json.dumps({"results": results}, ensure_ascii=False).encode())

    def _answer(self, status: int, answer: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class SmsGateway(ThreadingHTTPServer):
    """A local SMS gateway: ``.received`` holds each posted text (phone, text,
    sign, auth) in order; ``.connections`` the client addresses seen (one per
    keep-alive connection); a phone in ``.refuse`` is answered 500 and not kept.
    ``/send-batch`` (``.batch_url``) takes many texts in one request and answers
    a status per text (``.batches`` counts those requests).
    ``GET /inbox?phone=…`` (``.inbox_url``) answers ``{"texts": [...]}``, a phone's inbox.
    Use as a context manager: it serves on a thread."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", free_port()), _GatewayHandler)
        self.received: list[dict] = []
        self.connections: set = set()
        self.refuse: set[str] = set()
        self.batches = 0
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/send"
        self.batch_url = f"http://127.0.0.1:{self.server_address[1]}/send-batch"
        self.inbox_url = f"http://127.0.0.1:{self.server_address[1]}/inbox"

    def texts(self, phone: str | None = None) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.received if phone is None or m["phone"] == phone]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()
