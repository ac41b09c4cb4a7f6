"""Done when (issue 13): a mini-program client, tried as a new parent would with
scripts/miniprogram_client.py against the running portal, signs in with a fake
``wx.login`` code, binds her phone by SMS code, books a full session (so she
waits), is promoted, and receives the promotion as a subscription message through
the fake WeChat server, exactly once; with no acceptance left, her next promotion
comes as an SMS instead, exactly once.

Real parts only: a live server (this process) answers the script's HTTP calls; a
real Celery worker on Redis sends the outbox; the WeChat API and the SMS gateway
are local fake servers (tests/fakes.py) that both the server and the worker are
pointed at, through settings here and the environment there.
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from api.models import IdempotentRequest
from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from courses.tests.factories import CourseFactory, make_session
from events.models import Delivery
from members.models import User
from members.tests.factories import GuardianFactory
from notifications.selectors import notification_preference_for
from notifications.services import notification_preference_update
from scripts import miniprogram_client
from tests.fakes import FakeWeChatServer, SmsGateway
from tests.helpers import wait_for
from wechat.models import SubscriptionTemplate, WeChatIdentity
from wechat.tests.factories import SubscriptionTemplateFactory

PHONE = "13912345678"
OPENID = "o_xiaoyu_mama"
FIRST_LAUNCH, SECOND_LAUNCH = "wx-launch-1", "wx-launch-2"
PROMOTION_TEMPLATE = "tmpl-houbu-zhuanzheng"
PROMOTION_PAGE = "pages/learning/index"


@pytest.fixture
def sms_gateway(monkeypatch, settings):
    """A local SMS gateway: the worker's texts (sign-in codes and notices) go there."""
    with SmsGateway() as server:
        options = {"url": server.url, "api_key": "test"}
        monkeypatch.setenv("SMS_BACKEND", "members.sms.HttpApiSMSBackend")
        monkeypatch.setenv("SMS_OPTIONS", json.dumps(options))
        settings.SMS_BACKEND = "members.sms.HttpApiSMSBackend"
        settings.SMS_OPTIONS = options
        yield server


@pytest.fixture
def wechat_server(monkeypatch, settings):
    """The fake WeChat API, counting acceptances as WeChat does (43101 past them);
    the server (settings) and the worker (environment) both call it."""
    with FakeWeChatServer() as server:
        server.one_time_codes = True  # a wx.login code is good once, as on WeChat
        server.add_code(FIRST_LAUNCH, openid=OPENID)
        server.add_code(SECOND_LAUNCH, openid=OPENID)
        server.templates = {PROMOTION_TEMPLATE}
        server.strict_grants = True
        pointed = {
            "WECHAT_BACKEND": "wechat.client.HttpWeChatClient",
            "WECHAT_API_BASE": server.url,
            "WECHAT_APP_ID": server.app_id,
            "WECHAT_APP_SECRET": server.app_secret,
        }
        for name, value in pointed.items():
            monkeypatch.setenv(name, value)
            setattr(settings, name, value)
        yield server


@pytest.fixture
def worker(sms_gateway, wechat_server, monkeypatch, settings, request):
    # The worker reads the fakes' addresses from the environment it starts with.
    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.example.cn")
    settings.PORTAL_BASE_URL = "https://portal.example.cn"
    return request.getfixturevalue("celery_worker_process")


def _full_session(title: str, taken_by):
    """A course session for one person, already taken by ``taken_by``'s family."""
    course = CourseFactory(title=title)
    session = make_session(course, capacity=1, starts_in=datetime.timedelta(days=2))
    booking = booking_create(
        offering_id=session.offering_id,
        family=taken_by.family,
        booked_by=taken_by.user,
        guardian_ids=[taken_by.pk],
    )
    assert booking.status == Booking.Status.CONFIRMED
    return session, booking


def _awake_now(user) -> None:
    # The worker sends by the real clock, and her default quiet hours (22:00–07:00)
    # would rightly hold a notice at night. She moves them half a day away, an
    # explicit choice the outbox respects, and keeps her channels as they are.
    preference = notification_preference_for(user=user)
    start = timezone.localtime() + datetime.timedelta(hours=12)
    notification_preference_update(
        user=user,
        by_email=preference.by_email,
        in_site=preference.in_site,
        by_sms=preference.by_sms,
        quiet_start=start.time().replace(second=0, microsecond=0),
        quiet_end=(start + datetime.timedelta(minutes=1)).time().replace(second=0, microsecond=0),
    )


def _waited(predicate, user) -> None:
    """Wait for the worker; past a minute, fail with her delivery log."""
    try:
        wait_for(predicate, timeout=60)
    except AssertionError:
        rows = Delivery.objects.filter(user=user).order_by("pk")
        log = [(r.purpose, r.channel, r.status, r.note) for r in rows]
        raise AssertionError(f"the worker did not get there; her deliveries: {log}") from None


def _settled() -> bool:
    # Nothing due is left unsent (a text held for quiet hours is not due yet: her
    # waiting-list receipt, texted at night before she moved them, waits for 07:00).
    due = Delivery.objects.filter(due_at__lte=timezone.now())
    return not due.filter(status__in=["pending", "claimed"]).exists()


def _promotion_texts(gateway) -> list[str]:
    return [text for text in gateway.texts(PHONE) if "候补转正：" in text]


def _run(capsys, *argv: str) -> str:
    """The script as a parent runs it; what it printed (it must end well)."""
    exit_code = miniprogram_client.main(list(argv))
    printed = capsys.readouterr()
    assert exit_code == 0, printed.out + printed.err
    return printed.out


@pytest.mark.celery_worker
def test_a_new_parent_on_the_miniprogram_is_promoted_by_wechat_then_by_sms(
    worker, sms_gateway, wechat_server, live_server, capsys
):
    # given two full sessions, each taken by another family, and the promotion's
    # subscription template as an administrator set it
    first_family, second_family = GuardianFactory(), GuardianFactory()
    talk, talk_taken = _full_session("亲子沟通的技巧", first_family)
    teens, teens_taken = _full_session("青春期家长课", second_family)
    SubscriptionTemplateFactory(
        kind=SubscriptionTemplate.Kind.PROMOTION,
        template_id=PROMOTION_TEMPLATE,
        page=PROMOTION_PAGE,
    )

    # when a new parent opens the mini-program for the first time: the script signs
    # her in with the wx.login code, binds her phone by the SMS code the gateway
    # carried, accepts the promotion template (WeChat counts it too), and books the
    # first session, sending the booking twice as a flaky network would
    printed = _run(
        capsys,
        "--base-url", live_server.url,
        "--wx-code", FIRST_LAUNCH,
        "--phone", PHONE,
        "--search", "亲子沟通",
        "--sms-inbox-url", sms_gateway.inbox_url,
    )  # fmt: skip
    wechat_server.accept(OPENID, PROMOTION_TEMPLATE)

    # then each step answered as a mini-program expects, in Chinese and English
    for line in (
        "微信登录：新用户，需要绑定手机号",
        "手机号已绑定，已登录",
        "Subscription results reported: 1 template(s) accepted; promotion notices left: 1",
        "名额已满，已进入候补：第 1 位",
        "Network retry: same booking, no second one",
    ):
        assert line in printed, printed
    # and she has an account of her phone, bound to her openid, waiting, booked once
    user = User.objects.get(phone=PHONE)
    assert user.phone_verified
    assert WeChatIdentity.objects.get(user=user).openid == OPENID
    mine = Booking.objects.get(family__guardians__user=user)
    assert (mine.offering_id, mine.status) == (talk.offering_id, Booking.Status.WAITING)
    assert IdempotentRequest.objects.filter(body__id=mine.pk).count() == 1  # one key, one answer
    _awake_now(user)

    # when the family holding the place cancels, through the service
    booking_cancel(
        booking_id=talk_taken.pk, family=first_family.family, cancelled_by=first_family.user
    )
    mine.refresh_from_db()
    assert mine.status == Booking.Status.CONFIRMED

    # then the promotion reaches her once, as a subscription message, not as an SMS
    _waited(lambda: wechat_server.messages, user)
    _waited(_settled, user)
    [message] = wechat_server.messages
    assert message["touser"] == OPENID
    assert message["template_id"] == PROMOTION_TEMPLATE
    assert message["page"] == PROMOTION_PAGE
    values = {key: item["value"] for key, item in message["data"].items()}
    starts_at = timezone.localtime(talk.offering.starts_at)
    assert values["thing1"] == "亲子沟通的技巧"
    assert values["time2"] == f"{starts_at:%Y年%m月%d日 %H:%M}"
    assert values["thing3"] == talk.venue
    assert _promotion_texts(sms_gateway) == []
    first = Delivery.objects.filter(user=user, purpose="promoted", offering=talk.offering)
    assert sorted(first.values_list("channel", "status")) == [("inbox", "sent"), ("wechat", "sent")]

    # when she opens the mini-program again: already bound, she is signed in at
    # once, gives no new acceptance, and joins the second session's waiting list
    printed = _run(
        capsys,
        "--base-url", live_server.url,
        "--wx-code", SECOND_LAUNCH,
        "--phone", PHONE,
        "--search", "青春期",
        "--subscription", "skip",
    )  # fmt: skip
    assert "微信登录：已绑定的账号，直接登录" in printed and "SMS code" not in printed
    waiting = Booking.objects.get(family=mine.family, offering=teens.offering)
    assert waiting.status == Booking.Status.WAITING

    # and that session's family cancels too
    booking_cancel(
        booking_id=teens_taken.pk, family=second_family.family, cancelled_by=second_family.user
    )

    # then, with no acceptance left, this promotion comes as one SMS instead
    _waited(lambda: _promotion_texts(sms_gateway), user)
    _waited(_settled, user)
    [text] = _promotion_texts(sms_gateway)
    assert "青春期家长课" in text
    assert len(wechat_server.messages) == 1
    # (the portal's own count knew: WeChat was not even asked the second time)
    assert wechat_server.calls["subscribe_send"] == 1
    second = Delivery.objects.filter(user=user, purpose="promoted", offering=teens.offering)
    assert sorted(second.values_list("channel", "status")) == [
        ("inbox", "sent"),
        ("sms", "sent"),
        ("wechat", "skipped"),
    ]
    assert Booking.objects.filter(family=mine.family).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_script_stops_at_an_unexpected_answer_with_the_portals_message(
    wechat_server, live_server, capsys
):
    # given a wx.login code WeChat refuses (40029)
    # when the script signs in with it
    exit_code = miniprogram_client.main(
        ["--base-url", live_server.url, "--wx-code", "bad-code", "--phone", PHONE]
    )

    # then it stops at once, non-zero, saying what the portal said, and nothing was made
    printed = capsys.readouterr()
    assert exit_code == 1
    assert "POST /wechat/login → 400 wechat_40029" in printed.err
    assert "登录凭证无效或已过期，请重新打开小程序。" in printed.err
    assert wechat_server.calls["code2session"] == 1
    assert not User.objects.filter(phone=PHONE).exists()
