"""Structured logs: one JSON object per line, from web and worker processes alike.

Every line carries ``timestamp`` (ISO 8601 with its offset), ``level``,
``logger``, ``event`` and, inside a request or a task, ``request_id``. The id
comes from nginx (``X-Request-ID: $request_id``) or is made here, is echoed in the
response's ``X-Request-ID`` header, travels in the headers of every Celery task
the request queues (``before_task_publish``), and is bound again in the worker
while that task runs (``task_prerun``); a task beat started gets an id of its
own, which the tasks it queues inherit (docs/OPERATIONS.md, "logs").

structlog's own loggers and the standard library's (Django's ``django.request``,
Celery's, the portal's ``logging.getLogger(__name__)``) go through the same
processors, the last of which before the renderer is :func:`redact`: no phone
number, token or secret reaches a log line, whoever logged it. The test run
checks that (``phones_in_logs``, called by the root conftest.py).

This module is imported by the settings: it must not import Django models.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

import structlog
from django.core.signals import request_finished
from structlog.contextvars import bind_contextvars, get_contextvars, reset_contextvars

REQUEST_ID_HEADER = "X-Request-ID"
request_logger = structlog.get_logger("alliance.request")
task_logger = structlog.get_logger("alliance.task")

# --- redaction ---------------------------------------------------------------

REDACTED = "[redacted]"

# Ids that look like hex but are ids, never phone numbers: a canonical UUID (Celery's
# task ids, ours) and nginx's $request_id (32 hex digits). They are kept whole, so a
# run of digits inside one is not taken for a phone number.
_ID = (
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12}|[0-9a-f]{32})(?![0-9A-Za-z])"
)
# A mainland mobile number, bare or with +86/86, with or without separators
# (138 1234 5678, 138-1234-5678); digits around it make it something else.
_PHONE = r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])"
_PHONE_OR_ID = re.compile(rf"(?P<id>{_ID})|(?P<phone>{_PHONE})")

# name=value and "name": "value" pairs whose value is a secret: query strings,
# form bodies, reprs of dicts.
_SECRET_NAMES = (
    r"access_token|refresh_token|claim_token|token|code|key|api_key|secret|client_secret"
    r"|password\d?|passwd|pwd|sig|signature|session_key|sessionid|csrftoken"
    r"|csrfmiddlewaretoken|otp|ticket"
)
_SECRET_PAIR = re.compile(
    rf"""(?ix)
    (?<![A-Za-z0-9_])
    (?P<name>["']?(?:{_SECRET_NAMES})["']?\s*(?:=|:\s*)\s*["']?)
    (?P<value>[^"'&\s,;}})\]]+)
    """
)
_AUTH = re.compile(r"(?i)\b(?P<scheme>bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# Anything long that mixes letters and digits with no break: session keys, signed
# values, reset keys, calendar-feed tokens, access tokens.
_LONG_SECRET = re.compile(
    rf"(?P<id>{_ID})"
    r"|(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])"
    r"[A-Za-z0-9_-]{24,}(?![A-Za-z0-9_-])"
)
# Keys of a log call whose value is never written.
_SECRET_KEY = re.compile(
    r"(?i)(?:^|_)(?:password|passwd|secret|token|authorization|cookie|cookies|csrf"
    r"|session_key|sessionid|api_key|signature|otp)$"
)
# Keys we fill ourselves with ids made or checked here.
_TRUSTED_KEYS = frozenset({"request_id", "task_id", "parent_request_id"})


def _mask_phone(match: re.Match) -> str:
    if match.group("id"):
        return match.group("id")
    digits = re.sub(r"\D", "", match.group("phone"))[-11:]
    return f"{digits[:3]}****{digits[-4:]}"


def redact_text(text: str) -> str:
    """The text with phone numbers masked (138****5678) and secrets replaced."""
    text = _PHONE_OR_ID.sub(_mask_phone, text)
    text = _SECRET_PAIR.sub(lambda m: m.group("name") + REDACTED, text)
    text = _AUTH.sub(lambda m: f"{m.group('scheme')} {REDACTED}", text)
    return _LONG_SECRET.sub(lambda m: m.group("id") or REDACTED, text)


def find_phones(text: str) -> list[str]:
    """The phone numbers in ``text`` (ids such as UUIDs are not looked into)."""
    return [m.group("phone") for m in _PHONE_OR_ID.finditer(text) if m.group("phone")]


def _redact_value(value):
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        return redact_text(text) if find_phones(text) else value
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    if value is None or isinstance(value, float | bool):
        return value
    return redact_text(repr(value))


def _redact_item(key, value):
    if isinstance(key, str) and _SECRET_KEY.search(key) and value:
        return REDACTED
    return _redact_value(value)


def redact(logger, method_name, event_dict):
    """structlog processor: the last step before a line is rendered."""
    for key, value in event_dict.items():
        if key in _TRUSTED_KEYS and isinstance(value, str) and not find_phones(value):
            continue
        event_dict[key] = _redact_item(key, value)
    return event_dict


# --- processors and formatters -----------------------------------------------


def add_timestamp(logger, method_name, event_dict):
    # The process's local time with its offset: +08:00 once Django has set TZ
    # from TIME_ZONE (Asia/Shanghai), so a line reads as the district's clock.
    event_dict["timestamp"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return event_dict


def _order(logger, method_name, event_dict):
    head = {
        key: event_dict.pop(key)
        for key in ("timestamp", "level", "logger", "event")
        if key in event_dict
    }
    head.update(event_dict)
    return head


SHARED_PROCESSORS = [
    add_timestamp,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.contextvars.merge_contextvars,
]


def _formatter(renderer) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.StackInfoRenderer(),
            redact,
            _order,
            renderer,
        ],
    )


def json_formatter() -> logging.Formatter:
    """LOGGING's ``json`` formatter: one JSON object per line."""
    return _formatter(structlog.processors.JSONRenderer(ensure_ascii=False, default=str))


def console_formatter() -> logging.Formatter:
    """LOGGING's ``console`` formatter (LOG_FORMAT=console): the same fields, for eyes."""
    return _formatter(structlog.dev.ConsoleRenderer(colors=False))


class RedactingFormatter(logging.Formatter):
    """A plain format string, redacted: for text logs the JSON formatter does not
    write (pytest's "Captured log" sections of a failed test)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def configure_structlog() -> None:
    """structlog's loggers hand their events to the standard library's handlers,
    so LOGGING (levels, handlers, formatters) governs both kinds alike."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


# --- request id ----------------------------------------------------------------

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(value: str | None) -> str:
    """The caller's id (nginx's $request_id) when it is a plain token that hides
    nothing, else a new one: a header cannot smuggle a phone number or a line
    break into the logs."""
    if value and _SANE_REQUEST_ID.fullmatch(value) and not find_phones(value):
        return value
    return new_request_id()


# Path parameters whose value is a secret: the logged path carries [redacted].
_SECRET_KWARG = re.compile(r"(?i)token|code|key|secret|sig|uid|hash")


def loggable_path(request) -> str:
    """The path without its query string (which may carry tokens), with secret
    path parameters (calendar-feed tokens, check-in codes, reset keys) replaced."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match else ():
        if _SECRET_KWARG.search(name) and isinstance(value, str) and value:
            path = path.replace(value, REDACTED)
    return path


def _user_id(request):
    # Only a user the request already loaded: logging must not add a query.
    from django.utils.functional import empty

    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk


class RequestLogMiddleware:
    """First in MIDDLEWARE: binds the request id for every line the request logs
    (and every task it queues), echoes it in the response, and writes one line
    per request: method, path, status, duration_ms, view, user_id."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Django logs a 4xx/5xx answer (django.request) after the middleware has
        # returned: the id stays bound until the response is closed.
        request_finished.connect(_unbind_request, dispatch_uid="alliance.logging.request")

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        _unbind_request()  # a request whose close never came (an error in a view's iterator)
        _request_tokens.set(bind_contextvars(request_id=request_id))
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        status = response.status_code
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else 0
        match = getattr(request, "resolver_match", None)
        request_logger.log(
            level or logging.INFO,
            "request",
            method=request.method,
            path=loggable_path(request),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            view=match.view_name if match else None,
            user_id=_user_id(request),
        )
        return response


_request_tokens: ContextVar[dict | None] = ContextVar("alliance_request_log", default=None)


def _unbind_request(**kwargs) -> None:
    tokens = _request_tokens.get()
    if not tokens:
        return
    _request_tokens.set(None)
    try:
        reset_contextvars(**tokens)
    except ValueError:  # closed in another context (ASGI): drop the id all the same
        structlog.contextvars.unbind_contextvars("request_id")


# --- Celery ----------------------------------------------------------------------

# task id → (contextvar tokens, start time), to restore the caller's context after
# an eager task run in a request and to time the task.
_running: dict[str, tuple[dict, float]] = {}


def add_request_id_header(headers: dict | None = None, **kwargs) -> None:
    """``before_task_publish``: the task carries the id of the request (or task)
    that queued it."""
    request_id = get_contextvars().get("request_id")
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def _header(task, name: str):
    request = task.request
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def bind_task_context(task_id=None, task=None, **kwargs) -> None:
    """``task_prerun``: the task's lines carry its request id (the queuing
    request's, else the caller's when run eagerly, else a new one), task and
    task_id."""
    request_id = _header(task, "request_id") or get_contextvars().get("request_id")
    tokens = bind_contextvars(
        request_id=request_id_from(request_id), task=task.name, task_id=task_id
    )
    _running[task_id] = (tokens, time.perf_counter())
    task_logger.info("task started")


def unbind_task_context(task_id=None, task=None, state=None, **kwargs) -> None:
    """``task_postrun``: one line with the outcome, then the caller's context back."""
    tokens, started = _running.pop(task_id, ({}, None))
    task_logger.info(
        "task finished",
        state=state,
        duration_ms=round((time.perf_counter() - started) * 1000, 1) if started else None,
    )
    reset_contextvars(**tokens)


def connect_celery_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(add_request_id_header, weak=False, dispatch_uid="alliance.log.pub")
    task_prerun.connect(bind_task_context, weak=False, dispatch_uid="alliance.log.prerun")
    task_postrun.connect(unbind_task_context, weak=False, dispatch_uid="alliance.log.postrun")


# --- the test run's check ---------------------------------------------------------


def phones_in_logs(paths: Iterable[Path]) -> list[tuple[Path, int, str]]:
    """(file, line number, masked number) for each phone number found in the
    given log files; the test run fails if there is any."""
    found = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                found.extend((path, number, redact_text(phone)) for phone in find_phones(line))
    return found


def redact_pytest_reports(config) -> None:
    """pytest prints the records of a failed test ("Captured log"): redacted too."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    handler = getattr(plugin, "report_handler", None)
    if handler is not None and handler.formatter is not None:
        handler.setFormatter(RedactingFormatter(handler.formatter._fmt, handler.formatter.datefmt))


def check_test_logs(session) -> None:
    """The end of a test run (root conftest.py): a phone number in any log line of
    the run fails it; run folders older than two days are removed."""
    import os
    import shutil

    import pytest

    folder = Path(os.environ.get("TEST_LOG_DIR", ""))
    if not folder.name or not folder.is_dir():
        return
    found = phones_in_logs(sorted(folder.glob("*.jsonl")))
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.section("phone numbers in the logs of this run", sep="=", red=True)
            for path, number, masked in found[:50]:
                reporter.write_line(f"{path}:{number}: {masked}")
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    cutoff = time.time() - 2 * 86400
    for old in folder.parent.iterdir():
        if old != folder and old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
