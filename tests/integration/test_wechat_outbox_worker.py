"""WeChat subscription messages through the real parts: a real Celery worker on
Redis sends a promotion as a subscription message to the local fake WeChat
server exactly once, however often it is kicked; with no acceptance left the
guardian is texted instead (local SMS gateway); WeChat's 43101 turns her
channel off and falls back to a text, once."""

import datetime
import json

import pytest

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from courses.tests.factories import CourseFactory, make_session
from events.models import Delivery
from events.reminders import deliveries_kick
from events.tests import worker_fixtures
from members.tests.factories import GuardianFactory
from notifications.models import NotificationPreference
from notifications.selectors import notification_preference_for
from tests.fakes import FakeWeChatServer, SmsGateway
from tests.helpers import wait_for
from wechat.models import SubscriptionGrant
from wechat.tests.factories import (
    SubscriptionGrantFactory,
    SubscriptionTemplateFactory,
    WeChatIdentityFactory,
)

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker
PHONE = "13812345678"
FIELDS = {"thing1": "title", "time2": "starts_at", "thing3": "venue", "thing4": "note"}


@pytest.fixture
def outside(monkeypatch, settings):
    """The fake WeChat server and the SMS gateway; the worker reaches both by its
    environment (so this fixture comes before the worker's)."""
    with FakeWeChatServer() as wechat, SmsGateway() as gateway:
        for name, value in {
            "WECHAT_BACKEND": "wechat.client.HttpWeChatClient",
            "WECHAT_API_BASE": wechat.url,
            "WECHAT_APP_ID": wechat.app_id,
            "WECHAT_APP_SECRET": wechat.app_secret,
            "SMS_BACKEND": "members.sms.HttpApiSMSBackend",
            "SMS_OPTIONS": json.dumps({"url": gateway.url, "api_key": "test"}),
        }.items():
            monkeypatch.setenv(name, value)
        settings.WECHAT_BACKEND = "wechat.client.HttpWeChatClient"
        settings.WECHAT_API_BASE = wechat.url
        settings.WECHAT_APP_ID = wechat.app_id
        settings.WECHAT_APP_SECRET = wechat.app_secret
        yield wechat, gateway


def _settled() -> bool:
    return not Delivery.objects.filter(status__in=["pending", "claimed"]).exists()


def _promote(guardian):
    """A full session: the guardian's family waits, the other family cancels."""
    session = make_session(CourseFactory(title="亲子沟通的技巧"), capacity=1)
    first = GuardianFactory()
    taken = booking_create(
        offering_id=session.offering_id,
        family=first.family,
        booked_by=first.user,
        guardian_ids=[first.pk],
    )
    mine = booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    assert mine.status == Booking.Status.WAITING
    booking_cancel(booking_id=taken.pk, family=first.family, cancelled_by=first.user)
    mine.refresh_from_db()
    assert mine.status == Booking.Status.CONFIRMED
    return session


def _wechat_parent(openid: str):
    guardian = GuardianFactory(user__email="", user__phone=PHONE, user__phone_verified=True)
    WeChatIdentityFactory(user=guardian.user, openid=openid)
    # (her saved choice as the defaults give it, without quiet hours: the worker
    # sends by the real clock, and at night a fallback text would rightly wait)
    NotificationPreference.objects.create(
        user=guardian.user,
        in_site=True,
        by_email=False,
        by_sms=False,
        by_wechat=True,
        quiet_start=datetime.time(12, 0),
        quiet_end=datetime.time(12, 0),
    )
    for kind in ("promotion", "receipt"):
        SubscriptionTemplateFactory(kind=kind, template_id=f"T-{kind}", field_map=FIELDS)
    return guardian


def _promotion_texts(gateway) -> list[str]:
    return [t for t in gateway.texts(PHONE) if "候补转正" in t]


def test_a_promotion_arrives_once_as_a_subscription_message(outside, reminder_worker):
    wechat, gateway = outside
    # given a WeChat parent who accepted one promotion and one receipt message
    guardian = _wechat_parent("o_mum")
    SubscriptionGrantFactory(user=guardian.user, template_id="T-promotion")
    SubscriptionGrantFactory(user=guardian.user, template_id="T-receipt")

    # when she is promoted, and the worker is kicked again and again
    _promote(guardian)
    wait_for(lambda: len(wechat.sent_to("o_mum")) >= 2, timeout=60)
    for _kick in range(3):
        deliveries_kick()
    wait_for(_settled, timeout=60)

    # then WeChat carried her waiting receipt and her promotion, each once
    sent = wechat.sent_to("o_mum")
    assert sorted(m["template_id"] for m in sent) == ["T-promotion", "T-receipt"]
    (promotion,) = [m for m in sent if m["template_id"] == "T-promotion"]
    assert promotion["data"]["thing1"] == {"value": "亲子沟通的技巧"}
    assert not _promotion_texts(gateway)
    rows = Delivery.objects.filter(user=guardian.user, channel="wechat")
    assert sorted(rows.values_list("purpose", "status")) == [
        ("confirmation", "sent"),
        ("promoted", "sent"),
    ]
    assert not SubscriptionGrant.objects.filter(user=guardian.user, spent_at__isnull=True)


def test_with_no_acceptance_left_she_is_texted_instead(outside, reminder_worker):
    wechat, gateway = outside
    # given a WeChat parent whose one promotion acceptance is already spent
    guardian = _wechat_parent("o_dad")
    SubscriptionGrantFactory(user=guardian.user, template_id="T-promotion")
    SubscriptionGrant.objects.filter(user=guardian.user).update(spent_at="2026-01-01T00:00Z")

    _promote(guardian)
    wait_for(lambda: _promotion_texts(gateway), timeout=60)
    for _kick in range(3):
        deliveries_kick()
    wait_for(_settled, timeout=60)

    # then the promotion came by text, once, and WeChat was not asked for it
    assert len(_promotion_texts(gateway)) == 1
    assert not [m for m in wechat.sent_to("o_dad") if m["template_id"] == "T-promotion"]
    row = Delivery.objects.get(user=guardian.user, purpose="promoted", channel="wechat")
    assert (row.status, row.note) == ("skipped", "没有可用的微信订阅次数，已改发短信。")


def test_a_refusal_turns_the_channel_off_and_texts_once(outside, reminder_worker):
    wechat, gateway = outside
    guardian = _wechat_parent("o_gran")
    SubscriptionGrantFactory(user=guardian.user, template_id="T-promotion")
    wechat.answers["o_gran"] = 43101

    _promote(guardian)
    wait_for(lambda: _promotion_texts(gateway), timeout=60)
    deliveries_kick()
    wait_for(_settled, timeout=60)

    assert len(_promotion_texts(gateway)) == 1
    row = Delivery.objects.get(user=guardian.user, purpose="promoted", channel="wechat")
    assert row.note == "用户在微信中拒收（43101），已关闭微信渠道，已改发短信。"
    user = type(guardian.user).objects.get(pk=guardian.user.pk)
    assert notification_preference_for(user=user).by_wechat is False
