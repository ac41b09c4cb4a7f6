"""Account messages (allauth's codes, the texted answers, its mails) go through
the outbox: one row per message, sent after the commit, no quiet hours, the
code or link never in the row, shown masked in the delivery log. (PostgreSQL,
eager Celery run after the commit, locmem SMS and mail; the real worker is in
tests/integration/test_account_messages_worker.py.)"""

import datetime
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import transaction

from events import reminders
from events.models import Delivery
from members.selectors import ACCOUNT_MESSAGE_CACHE_PREFIX
from members.services import account_message_send
from members.signals import account_message_requested
from members.tests.factories import UserFactory
from members.tests.family_support import (  # noqa: F401 - fixture
    PASSWORD,
    committed,
    last_code,
    sms_outbox_fixture,
)
from notifications.models import NotificationPreference

pytestmark = pytest.mark.django_db
PHONE = "13812345678"


def _row_text(row: Delivery) -> str:
    """Every stored value of the row, as the database has it."""
    values = Delivery.objects.filter(pk=row.pk).values()[0]
    return " ".join(str(value) for value in values.values())


def test_a_sign_up_code_is_one_outbox_row_sent_after_the_commit_without_the_code(
    client, sms_outbox
):
    # when a parent signs up by phone
    data = {"phone": PHONE, "password1": PASSWORD, "password2": PASSWORD, "agree_privacy": "on"}
    with committed():
        response = client.post("/accounts/signup/", data)
        # then nothing is texted before the commit
        assert sms_outbox == []
    assert response["Location"] == "/accounts/phone/verify/"

    # and once it commits, the code is texted once, signed once
    assert [m.phone for m in sms_outbox] == [PHONE]
    text = sms_outbox[0].text
    assert text.startswith("【协同育人门户】") and text.count("【协同育人门户】") == 1
    assert "验证码" in text and "10分钟内有效" in text
    code = last_code(sms_outbox, PHONE)

    # from one row of the outbox: for her account, to her number, sent, without the code
    row = Delivery.objects.get(purpose="account")
    assert (row.channel, row.status, row.account_kind, row.address) == (
        "sms",
        "sent",
        "verification_code",
        PHONE,
    )
    assert row.user.phone == PHONE and row.offering_id is None
    assert code not in _row_text(row) and "验证码是" not in _row_text(row)
    # and the code works
    assert client.post("/accounts/phone/verify/", {"code": code}).status_code == 302


def test_a_code_is_not_held_back_by_quiet_hours(client, sms_outbox):
    # given a parent whose quiet hours last all day
    user = UserFactory(phone="13700001111", phone_verified=True, email="")
    NotificationPreference.objects.create(
        user=user,
        in_site=True,
        by_sms=True,
        by_email=False,
        quiet_start=datetime.time(0, 0),
        quiet_end=datetime.time(23, 59),
    )
    # when she asks for a sign-in code, it comes at once
    with committed():
        client.post("/accounts/login/code/", {"phone": "13700001111", "email": ""})
    assert [m.phone for m in sms_outbox] == ["13700001111"]
    row = Delivery.objects.get(purpose="account")
    assert row.status == "sent" and row.note == ""


def test_an_unknown_number_is_answered_through_the_outbox(client, sms_outbox):
    # when a code is asked for with a number nobody registered
    with committed():
        response = client.post("/accounts/login/code/", {"phone": "13600009999", "email": ""})
    # then the page does not tell (enumeration), the text does, from a row without an account
    assert response.status_code == 302
    assert [(m.phone, m.text) for m in sms_outbox] == [
        ("13600009999", "【协同育人门户】该手机号尚未注册，请先注册账号。")
    ]
    row = Delivery.objects.get(purpose="account")
    assert row.user_id is None and row.account_kind == "unknown_account"
    assert row.recipient == "136****9999"


def test_a_password_reset_mail_keeps_its_link_out_of_the_row(client):
    # given a parent with an email address
    from allauth.account.models import EmailAddress

    user = UserFactory(email="mum@example.cn")
    EmailAddress.objects.create(user=user, email="mum@example.cn", verified=True, primary=True)
    # when she asks for a new password
    with committed():
        client.post("/accounts/password/reset/", {"email": "mum@example.cn"})
    # then the mail goes once, from the portal, with its link
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["mum@example.cn"] and message.subject.startswith("【协同育人门户】")
    link = re.search(r"/accounts/password/reset/key/\S+/", message.body).group(0)
    assert f"delivery-{Delivery.objects.get().pk}@" in message.extra_headers["Message-ID"]
    # and its row names the kind and her account, never the link or its key
    row = Delivery.objects.get(purpose="account")
    assert (row.channel, row.status, row.account_kind, row.user_id) == (
        "email",
        "sent",
        "password_reset",
        user.pk,
    )
    key = link.rstrip("/").rsplit("/", 1)[-1]
    assert key not in _row_text(row) and "/accounts/" not in _row_text(row)


def test_a_rolled_back_request_sends_nothing():
    with transaction.atomic():
        sid = transaction.savepoint()
        account_message_send(kind="verification_code", phone=PHONE, code="123456")
        transaction.savepoint_rollback(sid)
    assert not Delivery.objects.filter(purpose="account").exists()


def test_an_expired_code_is_skipped_with_a_note(sms_outbox):
    # given a code whose cache entry expired before any worker got to it
    account_message_send(kind="verification_code", phone=PHONE, code="123456")
    row = Delivery.objects.get(purpose="account")
    cache.delete(ACCOUNT_MESSAGE_CACHE_PREFIX + row.message_key)
    # when a pass sends due rows
    token, claimed = reminders.deliveries_claim_batch(
        now=row.due_at + datetime.timedelta(seconds=1), limit=10
    )
    reminders.delivery_send_batch(delivery_ids=claimed, claim_token=str(token))
    # then nothing is texted and the log says why
    row.refresh_from_db()
    assert sms_outbox == []
    assert row.status == "skipped" and row.note == "验证码或链接已过期，未发送。"


def test_the_same_message_announced_twice_is_one_row(sms_outbox):
    with committed():
        account_message_send(kind="account_exists", phone=PHONE)
        row = Delivery.objects.get(purpose="account")
        account_message_requested.send(
            sender=None,
            message_key=row.message_key,
            kind="account_exists",
            phone=PHONE,
            email="",
            user=None,
        )
    assert Delivery.objects.filter(purpose="account").count() == 1
    assert [m.text for m in sms_outbox] == ["【协同育人门户】该手机号已注册，请直接登录。"]


def test_the_admin_log_shows_account_messages_masked_and_without_the_code(client, sms_outbox):
    # given a code texted to a new number
    with committed():
        account_message_send(kind="verification_code", phone=PHONE, code="654321")
    row = Delivery.objects.get(purpose="account")
    assert cache.get(ACCOUNT_MESSAGE_CACHE_PREFIX + row.message_key) is not None
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    # when the administrator opens the log and the row
    changelist = client.get("/admin/events/delivery/?purpose=account").content.decode()
    detail = client.get(f"/admin/events/delivery/{row.pk}/change/").content.decode()
    # then it is there, as a code, to a masked number; the code and its key nowhere
    for page in (changelist, detail):
        assert "账号消息" in page and "验证码" in page and "138****5678" in page
        assert PHONE not in page and "654321" not in page and row.message_key not in page


def test_account_messages_refuse_what_they_cannot_send():
    with pytest.raises(ValueError):
        account_message_send(kind="verification_code", phone=PHONE)  # no code
    with pytest.raises(ValueError):
        account_message_send(kind="mail", email="a@example.cn")  # nothing rendered
    with pytest.raises(ValueError):
        account_message_send(kind="newsletter", phone=PHONE)
    assert not Delivery.objects.exists()
