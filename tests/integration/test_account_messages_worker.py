"""Account messages through the real parts: a sign-up code and a password-reset
mail are outbox rows that a real Celery worker on Redis sends once, after the
commit, to a local SMS gateway and a real SMTP server, however often it is
kicked; neither row holds the code or the link."""

import json
import re

import pytest

from events.models import Delivery
from events.reminders import deliveries_kick
from events.tests import worker_fixtures
from events.tests.worker_fixtures import decoded
from members.models import User
from members.tests.family_support import PASSWORD
from tests.fakes import SmsGateway
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker
PHONE = "13812345678"


@pytest.fixture
def sms_gateway(monkeypatch):
    """A local SMS gateway; the worker's texts go to it, by its environment."""
    with SmsGateway() as server:
        monkeypatch.setenv("SMS_BACKEND", "members.sms.HttpApiSMSBackend")
        monkeypatch.setenv("SMS_OPTIONS", json.dumps({"url": server.url, "api_key": "test"}))
        yield server


def _settled() -> bool:
    return not Delivery.objects.filter(status__in=["pending", "claimed"]).exists()


def _stored(row: Delivery) -> str:
    return " ".join(str(v) for v in Delivery.objects.filter(pk=row.pk).values()[0].values())


def test_a_sign_up_code_arrives_once_and_its_row_holds_no_code(
    sms_gateway, reminder_worker, smtp_server, client
):
    # (sms_gateway comes first: the worker reads SMS_BACKEND from the environment it starts with)
    # when a parent signs up with her phone number
    response = client.post(
        "/accounts/signup/",
        {"phone": PHONE, "password1": PASSWORD, "password2": PASSWORD, "agree_privacy": "on"},
    )
    assert response["Location"] == "/accounts/phone/verify/"

    # then the worker texts her the code, and kicking it again sends nothing more
    wait_for(lambda: sms_gateway.texts(PHONE), timeout=60)
    for _kick in range(3):
        deliveries_kick()
    wait_for(_settled, timeout=60)
    texts = sms_gateway.texts(PHONE)
    assert len(texts) == 1, texts
    assert texts[0].startswith("【协同育人门户】") and texts[0].count("【协同育人门户】") == 1
    code = re.search(r"\b(\d{6})\b", texts[0]).group(1)

    # and its row is sent, for her account, with neither the code nor the text in it
    row = Delivery.objects.get(purpose="account")
    assert (row.channel, row.status, row.account_kind, row.address) == (
        "sms",
        "sent",
        "verification_code",
        PHONE,
    )
    assert row.user == User.objects.get(phone=PHONE)
    assert code not in _stored(row) and "验证码" not in _stored(row)

    # and the code verifies her number
    assert client.post("/accounts/phone/verify/", {"code": code}).status_code == 302
    assert User.objects.get(phone=PHONE).phone_verified


def test_a_password_reset_mail_goes_once_through_smtp_without_its_link_in_the_row(
    reminder_worker, smtp_server, client
):
    from allauth.account.models import EmailAddress

    from members.tests.factories import UserFactory

    user = UserFactory(email="mum@example.cn")
    EmailAddress.objects.create(user=user, email="mum@example.cn", verified=True, primary=True)
    client.post("/accounts/password/reset/", {"email": "mum@example.cn"})
    wait_for(lambda: smtp_server.messages, timeout=60)
    deliveries_kick()
    wait_for(_settled, timeout=60)
    assert len(smtp_server.messages) == 1
    subject, body = decoded(smtp_server.messages[0])
    assert subject.startswith("【协同育人门户】")
    key = re.search(r"/accounts/password/reset/key/(\S+)/", body).group(1)
    row = Delivery.objects.get(purpose="account")
    assert (row.channel, row.status, row.account_kind) == ("email", "sent", "password_reset")
    assert key not in _stored(row)
    # and the link works
    assert client.get(f"/accounts/password/reset/key/{key}/", follow=True).status_code == 200
