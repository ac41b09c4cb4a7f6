"""Co-guardian invitations by phone (SMS) or email: sending once, accepting, refusing."""

import datetime
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from events.models import Delivery
from events.reminders import (
    deliveries_claim_batch,
    delivery_send_batch,
    invitation_notice_create,
    reminder_pass_run,
)
from members.errors import MembersError
from members.models import AuditLog, FamilyInvitation, Guardian
from members.services import family_invitation_accept, family_invitation_create
from members.tests.factories import GuardianFactory, UserFactory
from members.tests.family_support import sms_outbox_fixture  # noqa: F401 - fixture
from tests.helpers import wait_for

BASE = "http://testserver/"
LINK = re.compile(r"http://testserver(/family/join/[\w-]+/)")


@pytest.mark.django_db
def test_inviting_a_grandparent_by_phone_texts_a_link_that_lets_them_join(
    client, sms_outbox, django_capture_on_commit_callbacks
):
    # given a mother with a family
    mother = GuardianFactory(user__display_name="小雨妈妈")
    client.force_login(mother.user)

    # when she invites grandma by phone
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/family/invite/", {"relation": "grandparent", "phone": "13600001111", "email": ""}
        )

    # then grandma gets a text with a link (sent once, after the commit)
    assert response.status_code == 302
    assert len(sms_outbox) == 1
    text = sms_outbox[0].text
    assert sms_outbox[0].phone == "13600001111"
    assert "小雨妈妈" in text and "祖辈" in text
    path = LINK.search(text).group(1)
    assert "13600001111" not in path

    # and once grandma has an account with that (verified) number, the link lets her join
    grandma = UserFactory(phone="13600001111", phone_verified=True)
    client.force_login(grandma)
    assert "加入家庭" in client.get(path).content.decode()
    response = client.post(path)
    assert response["Location"] == "/family/"
    joined = Guardian.objects.get(user=grandma)
    assert joined.family == mother.family
    assert joined.relation == "grandparent"
    assert joined.phone == "13600001111"
    assert AuditLog.objects.filter(action="members.invitation.accept").exists()
    # the link is spent
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_inviting_by_email_sends_a_mail_with_the_link(client, django_capture_on_commit_callbacks):
    mother = GuardianFactory()
    client.force_login(mother.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/family/invite/", {"relation": "father", "phone": "", "email": "Dad@Example.cn"}
        )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dad@example.cn"]
    path = LINK.search(mail.outbox[0].body).group(1)

    dad = UserFactory(email="dad@example.cn", phone=None)
    client.force_login(dad)
    client.post(path)
    assert Guardian.objects.get(user=dad).family == mother.family


@pytest.mark.django_db
def test_a_forwarded_link_does_not_work_for_somebody_else(sms_outbox):
    mother = GuardianFactory()
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="grandparent",
        phone="13600001111",
        base_url=BASE,
    )
    stranger = UserFactory(phone="13600009999", phone_verified=True)
    with pytest.raises(MembersError) as error:
        family_invitation_accept(token=invitation.token, user=stranger)
    assert error.value.code == "invitation_not_for_you"
    assert "136****1111" in error.value.message
    assert not Guardian.objects.filter(user=stranger).exists()


@pytest.mark.django_db
def test_expired_or_withdrawn_invitations_cannot_be_accepted(client, sms_outbox):
    mother = GuardianFactory()
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="father",
        phone="13600001111",
        base_url=BASE,
    )
    client.force_login(mother.user)
    response = client.post(f"/family/invitations/{invitation.pk}/withdraw/")
    assert response.status_code == 302
    dad = UserFactory(phone="13600001111", phone_verified=True)
    with pytest.raises(MembersError):
        family_invitation_accept(token=invitation.token, user=dad)

    old = FamilyInvitation.objects.create(
        family=mother.family,
        phone="13600001111",
        relation="father",
        expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    client.force_login(dad)
    assert client.get(f"/family/join/{old.token}/").status_code == 404


@pytest.mark.django_db
def test_someone_already_in_a_family_is_told_so(sms_outbox):
    mother = GuardianFactory()
    other = GuardianFactory(user__phone="13600001111", user__phone_verified=True)
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="father",
        phone="13600001111",
        base_url=BASE,
    )
    with pytest.raises(MembersError) as error:
        family_invitation_accept(token=invitation.token, user=other.user)
    assert error.value.code == "already_in_family"


@pytest.mark.django_db
def test_bad_invitations_are_explained(client, sms_outbox, django_capture_on_commit_callbacks):
    mother = GuardianFactory(user__phone="13700001111")
    client.force_login(mother.user)
    both = client.post(
        "/family/invite/", {"relation": "father", "phone": "13600001111", "email": "a@b.cn"}
    )
    assert "请填写手机号码或电子邮箱中的一项" in both.content.decode()
    own = client.post("/family/invite/", {"relation": "father", "phone": "13700001111"})
    assert "已经是本家庭的监护人" in own.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            client.post("/family/invite/", {"relation": "other", "phone": f"1360000{n:04d}"})
    sixth = client.post("/family/invite/", {"relation": "other", "phone": "13600009999"})
    assert "待接受的邀请太多" in sixth.content.decode()
    assert len(sms_outbox) == 5


@pytest.mark.django_db
def test_sending_twice_sends_once(sms_outbox, django_capture_on_commit_callbacks):
    # given an invitation whose one outbox row is claimed by a pass
    mother = GuardianFactory()
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="father",
        phone="13600001111",
        base_url=BASE,
    )
    token, ids = deliveries_claim_batch(now=timezone.now(), limit=10)

    # when the row is written again (a repeated signal) and the send task runs
    # twice (a duplicated kick, a redelivered task), then the beat pass runs
    invitation_notice_create(invitation=invitation, base_url=BASE)
    first = delivery_send_batch(delivery_ids=ids, claim_token=str(token))
    again = delivery_send_batch(delivery_ids=ids, claim_token=str(token))
    with django_capture_on_commit_callbacks(execute=True):
        later = reminder_pass_run()

    # then one row, one text
    assert (first, again, later.claimed) == ({"sent": 1}, {"not-ours": 1}, 0)
    row = Delivery.objects.get(invitation=invitation)
    assert (row.purpose, row.channel, row.address, row.status) == (
        "invitation",
        "sms",
        "13600001111",
        "sent",
    )
    assert row.user_id is None and row.offering_id is None
    assert len(sms_outbox) == 1
    assert f"/family/join/{invitation.token}/" in sms_outbox[0].text


@pytest.mark.django_db
def test_a_withdrawn_invitation_is_not_sent(sms_outbox, django_capture_on_commit_callbacks):
    # given an invitation withdrawn before the worker got to it
    mother = GuardianFactory()
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="father",
        email="dad@example.cn",
        base_url=BASE,
    )
    from members.services import family_invitation_withdraw

    family_invitation_withdraw(invitation=invitation, actor=mother.user)

    # when the pass runs
    with django_capture_on_commit_callbacks(execute=True):
        reminder_pass_run()

    # then nothing goes out, and the log says why
    row = Delivery.objects.get(invitation=invitation)
    assert row.status == "skipped" and "撤回" in row.note
    assert mail.outbox == []


@pytest.mark.django_db
def test_an_invitation_to_an_account_number_waits_for_its_quiet_hours(sms_outbox):
    # given a number that already belongs to an account with quiet hours 22:00–07:00
    # (the defaults), and an invitation to it at 23:00 Beijing time
    from zoneinfo import ZoneInfo

    UserFactory(phone="13600001111", phone_verified=True)
    mother = GuardianFactory()
    invitation = FamilyInvitation.objects.create(
        family=mother.family,
        invited_by=mother.user,
        phone="13600001111",
        relation="father",
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    night = (timezone.now() + datetime.timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    night = night.replace(hour=23, minute=0, second=0, microsecond=0)

    # when its message is written
    invitation_notice_create(invitation=invitation, base_url=BASE, now=night)

    # then it is due at 07:00 the next morning, and the log says so
    row = Delivery.objects.get(invitation=invitation)
    local_due = row.due_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local_due.date(), f"{local_due:%H:%M}") == (
        (night + datetime.timedelta(days=1)).date(),
        "07:00",
    )
    assert "免打扰" in row.note


# --- through a real worker and the HTTP SMS backend -------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        _Gateway.received.append(
            {"auth": self.headers["Authorization"], "body": json.loads(self.rfile.read(length))}
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def sms_gateway(monkeypatch, settings):
    """A stand-in SMS provider on a local port; the worker's settings point at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = HTTPServer(("127.0.0.1", port), _Gateway)
    _Gateway.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = {"url": f"http://127.0.0.1:{port}/send", "api_key": "k-123", "sign_name": "门户"}
    # The worker process reads SMS_BACKEND / SMS_OPTIONS from its environment.
    monkeypatch.setenv("SMS_BACKEND", "members.sms.HttpApiSMSBackend")
    monkeypatch.setenv("SMS_OPTIONS", json.dumps(options))
    settings.SMS_BACKEND = "members.sms.HttpApiSMSBackend"
    settings.SMS_OPTIONS = options
    try:
        yield _Gateway.received
    finally:
        server.shutdown()


@pytest.fixture
def worker_with_gateway(sms_gateway, celery_worker_process):
    return sms_gateway


@pytest.mark.celery_worker
def test_invitation_text_goes_through_a_real_worker_and_the_http_backend(worker_with_gateway):
    # given a family (committed: the worker reads it from the database)
    mother = GuardianFactory()

    # when the mother invites a grandparent
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="grandparent",
        phone="13600001111",
        base_url=BASE,
    )

    # then the worker posts the text to the provider's gateway, once
    received = wait_for(lambda: worker_with_gateway, timeout=60)
    assert received[0]["auth"] == "Bearer k-123"
    assert received[0]["body"]["phone"] == "13600001111"
    assert received[0]["body"]["sign"] == "门户"
    assert f"/family/join/{invitation.token}/" in received[0]["body"]["text"]
    wait_for(lambda: Delivery.objects.filter(invitation=invitation, status="sent").exists())
    assert len(worker_with_gateway) == 1
    assert Delivery.objects.filter(invitation=invitation).count() == 1


@pytest.mark.django_db
def test_a_new_grandparent_signs_up_from_the_link_and_comes_back_to_join(
    client, sms_outbox, django_capture_on_commit_callbacks
):
    # given an invitation texted to grandma, who has no account yet
    mother = GuardianFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = family_invitation_create(
            family=mother.family,
            invited_by=mother.user,
            relation="grandparent",
            phone="13600001111",
            base_url=BASE,
        )
    path = f"/family/join/{invitation.token}/"

    # when she opens the link she is asked to sign in, with a way to sign up that keeps the link
    response = client.get(path)
    assert response.status_code == 302
    login_page = client.get(response["Location"])
    assert f"/accounts/signup/?next=%2Ffamily%2Fjoin%2F{invitation.token}%2F" in (
        login_page.content.decode()
    )

    # and after signing up by phone and entering the code she lands back on the invitation
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/accounts/signup/?next={path}",
            {
                "phone": "13600001111",
                "password1": "Lantern-river-42",
                "password2": "Lantern-river-42",
                "agree_privacy": "on",
                "next": path,
            },
        )
    code = re.search(r"\b(\d{6})\b", sms_outbox[-1].text).group(1)
    response = client.post("/accounts/phone/verify/", {"code": code})
    assert response["Location"] == path
    client.post(path)
    assert Guardian.objects.get(user__phone="13600001111").family == mother.family
