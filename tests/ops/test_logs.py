"""Structured JSON logs (issue 19): a request id from the request to the Celery
tasks it starts, in a real worker on Redis; no phone number or token in a line.

The lines are read where the test run writes them: one JSON file per process in
settings.TEST_LOG_DIR (the pytest process's and the worker's).
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
import structlog
from django.conf import settings
from django.urls import reverse

from alliance.logging import find_phones, redact_text, request_id_from
from courses.tests.factories import CourseFactory, make_session
from members.tests.factories import GuardianFactory
from tests.helpers import wait_for


def log_lines() -> list[dict]:
    """Every line this test run has written so far, from every process."""
    lines = []
    for path in sorted(Path(settings.TEST_LOG_DIR).glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            lines.append(json.loads(raw))  # each line is one JSON object
    return lines


def lines_of(request_id: str) -> list[dict]:
    return [line for line in log_lines() if line.get("request_id") == request_id]


def raw_text_of(request_id: str) -> str:
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines_of(request_id))


def a_request_id() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.mark.celery_worker
def test_a_booking_request_and_the_task_it_started_share_the_request_id(
    client, celery_worker_process
):
    # given a published course session and a signed-in parent
    session = make_session(CourseFactory(title="家长课堂：亲子沟通"), capacity=5)
    guardian = GuardianFactory()
    client.force_login(guardian.user)
    request_id = a_request_id()

    # when the parent books, the request coming through nginx with its id
    response = client.post(
        reverse("courses:book", args=[session.pk]),
        {"guardian": [guardian.pk]},
        headers={"X-Request-ID": request_id},
    )

    # then the response carries the id back
    assert response.status_code == 302
    assert response["X-Request-ID"] == request_id
    # and the worker's lines for the outbox task the booking queued carry the same id
    started = wait_for(
        lambda: [
            line
            for line in lines_of(request_id)
            if line["event"] == "task started"
            and line["task"] == "events.tasks.deliveries_dispatch"
        ],
        timeout=60,
    )
    wait_for(
        lambda: any(
            line["event"] == "task finished" and line["task_id"] == started[0]["task_id"]
            for line in lines_of(request_id)
        ),
        timeout=60,
    )
    lines = lines_of(request_id)
    [request_line] = [line for line in lines if line["logger"] == "alliance.request"]
    assert request_line["event"] == "request"
    assert request_line["method"] == "POST"
    assert request_line["path"] == f"/courses/sessions/{session.pk}/book/"
    assert request_line["status"] == 302
    assert request_line["view"] == "courses:book"
    assert request_line["user_id"] == guardian.user.pk
    assert isinstance(request_line["duration_ms"], float)
    assert request_line["level"] == "info"
    assert request_line["timestamp"].endswith("+08:00")
    task_lines = [line for line in lines if line["logger"] == "alliance.task"]
    assert {line["task"] for line in task_lines} >= {"events.tasks.deliveries_dispatch"}
    finished = [line for line in task_lines if line["event"] == "task finished"]
    assert finished and all(line["state"] == "SUCCESS" for line in finished)
    # and the tasks the dispatch queued in turn (the sends) carry it too
    wait_for(
        lambda: any(
            line.get("task") == "events.tasks.deliveries_send" for line in lines_of(request_id)
        ),
        timeout=60,
    )


def test_a_request_without_a_sane_id_gets_a_new_one(client):
    # when a request comes without an id, or with one that is not a plain token
    plain = client.get("/healthz")
    smuggled = client.get("/healthz", headers={"X-Request-ID": "13812345678"})
    broken = client.get("/healthz", headers={"X-Request-ID": "abc def\nforged"})

    # then each gets a new id, echoed and logged
    ids = [plain["X-Request-ID"], smuggled["X-Request-ID"], broken["X-Request-ID"]]
    # and nothing is left bound once the response is closed
    assert "request_id" not in structlog.contextvars.get_contextvars()
    assert len(set(ids)) == 3 and "13812345678" not in ids
    for request_id in ids:
        assert len(request_id) == 32 and int(request_id, 16) >= 0
        [line] = [line for line in lines_of(request_id) if line["logger"] == "alliance.request"]
        assert line["path"] == "/healthz" and line["user_id"] is None


@pytest.mark.celery_worker
def test_phone_numbers_and_tokens_never_reach_a_log_line(client, celery_worker_process):
    # given a parent with a phone number, signed in
    guardian = GuardianFactory()
    phone = guardian.user.phone
    assert phone and find_phones(phone)
    client.force_login(guardian.user)
    ids = {name: a_request_id() for name in ("notfound", "query", "feed", "login", "form")}
    secret = "s3cr3tT0kenValue9x8y7z6w5v4u3t2s1"

    # when requests carry the phone and tokens in their paths, query strings and forms
    client.get(f"/nope/{phone}/", headers={"X-Request-ID": ids["notfound"]})
    client.get(
        f"/healthz?phone={phone}&token={secret}&code=123456",
        headers={"X-Request-ID": ids["query"]},
    )
    client.get(
        reverse("events:calendar_feed", args=[secret]), headers={"X-Request-ID": ids["feed"]}
    )
    client.logout()
    client.post(
        reverse("account_login"),
        {"login": phone, "password": secret},
        headers={"X-Request-ID": ids["login"]},
    )
    client.post(
        reverse("account_login"),
        {"login": f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}", "password": secret},
        headers={"X-Request-ID": ids["form"], "Authorization": f"Bearer {secret}"},
    )
    # and a task fails in the worker with the phone and a token in its argument
    from reports.tasks import rollup_job_run

    structlog.contextvars.bind_contextvars(request_id=(task_request := a_request_id()))
    try:
        rollup_job_run.delay(f"{phone} token={secret}")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    failed = wait_for(
        lambda: [
            line
            for line in lines_of(task_request)
            if line["logger"].startswith("celery") and line["level"] == "error"
        ],
        timeout=60,
    )

    # then every line was written, and none holds the phone or the token
    assert "expected a number" in failed[0]["event"]
    assert f"{phone[:3]}****{phone[-4:]}" in failed[0]["event"]
    assert "[redacted]" in failed[0]["event"]
    for request_id in [*ids.values(), task_request]:
        text = raw_text_of(request_id)
        assert text, request_id
        assert not find_phones(text), request_id
        assert phone not in text and phone[-8:] not in text
        assert secret not in text and "123456" not in text
    # Django's own line for the 404, written after the middleware, has the id too
    assert [line["logger"] for line in lines_of(ids["notfound"])] == [
        "alliance.request",
        "django.request",
    ]
    feed = [line for line in lines_of(ids["feed"]) if line["logger"] == "alliance.request"]
    assert feed[0]["path"] == "/calendar/[redacted].ics"
    query = [line for line in lines_of(ids["query"]) if line["logger"] == "alliance.request"]
    assert query[0]["path"] == "/healthz"


def test_every_logger_goes_through_the_redaction(caplog):
    # given the standard library's loggers and structlog's, in a bound request
    structlog.contextvars.bind_contextvars(request_id=(request_id := a_request_id()))
    try:
        # when they log phones, secrets and an exception that holds one
        logging.getLogger("django.request").warning("Not Found: /x/13912345678/")
        logging.getLogger("members.sms").warning(
            "sent to %s: %s", "+8613912345678", {"password": "pw-123", "code": "654321"}
        )
        structlog.get_logger("alliance.test").warning(
            "event", phone=13912345678, token="abc", nested={"mobile": ["139 1234 5678"]}
        )
        try:
            raise ValueError("bad 13912345678 sessionid=abcdef")
        except ValueError:
            logging.getLogger("celery.app.trace").exception("failed")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")

    # then each line is JSON with the fields, the phone masked, the secrets gone
    lines = lines_of(request_id)
    assert len(lines) == 4
    for line in lines:
        assert {"timestamp", "level", "logger", "event", "request_id"} <= set(line)
    text = raw_text_of(request_id)
    assert not find_phones(text)
    assert text.count("139****5678") == 6  # the traceback shows the raising line too
    for secret in ("pw-123", "654321", "abcdef", '"abc"'):
        assert secret not in text
    assert "ValueError: bad 139****5678 sessionid=[redacted]" in lines[3]["exception"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", "138****5678"),
        ("tel:+86-138-1234-5678.", "tel:138****5678."),
        ("8613812345678", "138****5678"),
        ("order 213812345678 and 1381234567", "order 213812345678 and 1381234567"),
        ("/reset/key/2-cdpvbg-2d5f8a8c1d4e4b1f7e7c/", "/reset/key/[redacted]/"),
        ("Authorization: Bearer eyJhbGciOi.abc", "Authorization: Bearer [redacted]"),
        ("?access_token=ABC&openid=o1", "?access_token=[redacted]&openid=o1"),
        # ids are kept whole, whatever digits they hold
        ("task 6f1c2a3b-1381-2345-6789-a13812345678", "task 6f1c2a3b-1381-2345-6789-a13812345678"),
        ("id a13812345678b13812345678abcdef00", "id a13812345678b13812345678abcdef00"),
    ],
)
def test_redaction_rules(text, expected):
    assert redact_text(text) == expected


def test_request_ids_from_nginx_are_kept():
    nginx_id = "a13812345678b13812345678abcdef00"  # $request_id: 32 hex digits
    assert request_id_from(nginx_id) == nginx_id
    assert request_id_from("13812345678") != "13812345678"
    assert request_id_from("x" * 65) != "x" * 65


def test_the_console_sms_backend_logs_no_code():
    # given the development SMS backend, in a bound request
    from members.sms import ConsoleSMSBackend, SMSMessage

    structlog.contextvars.bind_contextvars(request_id=(request_id := a_request_id()))
    try:
        # when it sends a sign-in code
        ConsoleSMSBackend().send(SMSMessage(phone="13812341234", text="验证码 482913"))
    finally:
        structlog.contextvars.unbind_contextvars("request_id")

    # then its log line has the masked number and no code
    [line] = lines_of(request_id)
    assert line["event"] == "SMS to 138****1234 (10 characters)"
    assert "482913" not in raw_text_of(request_id)


def test_an_eager_task_logs_under_its_callers_id_and_gives_the_context_back():
    # given a request's id bound, and tasks run eagerly (the test settings)
    from portal.tasks import heartbeat

    structlog.contextvars.bind_contextvars(request_id=(request_id := a_request_id()))
    try:
        # when a task runs inside it
        heartbeat.delay("ping")

        # then the caller's context is as it was: no task fields left behind
        assert structlog.contextvars.get_contextvars() == {"request_id": request_id}
    finally:
        structlog.contextvars.unbind_contextvars("request_id")

    # and the task's lines carry the caller's id
    events = [line["event"] for line in lines_of(request_id) if line["logger"] == "alliance.task"]
    assert events == ["task started", "task finished"]
    finished = lines_of(request_id)[-1]
    assert finished["task"] == "portal.tasks.heartbeat" and finished["state"] == "SUCCESS"
