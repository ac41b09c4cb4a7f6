"""Helpers shared by the accounts, family, privacy and authorization tests (issue 4)."""

from __future__ import annotations

import re

import pytest
from django.test import TestCase

from members.sms import LocmemSMSBackend

PASSWORD = "Lantern-river-42"


@pytest.fixture(name="sms_outbox")
def sms_outbox_fixture(settings):
    """Texts go to the in-memory SMS backend; yields its outbox (emptied first)."""
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    settings.SMS_OPTIONS = {}
    LocmemSMSBackend.reset()
    yield LocmemSMSBackend.outbox
    LocmemSMSBackend.reset()


def committed():
    """Around a request in a test run inside a transaction: what it queued for
    after its commit runs as the request ends, as it does in a real request.
    Codes and account mails are outbox rows sent after the commit (eager Celery
    in unit tests sends them there)."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def last_code(outbox, phone: str) -> str:
    """The six-digit code of the last text sent to ``phone``."""
    for message in reversed(outbox):
        if message.phone == phone:
            match = re.search(r"\b(\d{6})\b", message.text)
            if match:
                return match.group(1)
    raise AssertionError(f"no code sent to {phone}: {outbox!r}")


def signup_by_phone(client, outbox, phone: str, password: str = PASSWORD):
    """Sign up by phone and enter the code; returns the final response."""
    with committed():
        response = client.post(
            "/accounts/signup/",
            {
                "phone": phone,
                "email": "",
                "password1": password,
                "password2": password,
                "agree_privacy": "on",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/accounts/phone/verify/"
    code = last_code(outbox, phone)
    return client.post("/accounts/phone/verify/", {"code": code})


def signup_by_email(client, email: str, password: str = PASSWORD):
    """Sign up with an email and no phone; returns the response. The confirmation
    mail is sent after the commit, so it is in ``mail.outbox`` on return."""
    with committed():
        return client.post(
            "/accounts/signup/",
            {
                "phone": "",
                "email": email,
                "password1": password,
                "password2": password,
                "agree_privacy": "on",
            },
        )


def login(client, login_value: str, password: str = PASSWORD):
    # (signing in with an unverified number texts a code)
    with committed():
        return client.post("/accounts/login/", {"login": login_value, "password": password})
