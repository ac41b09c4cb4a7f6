"""Done when: a new parent who has only a phone number is reached on it.

She signs up through allauth's phone flow (the code, an outbox message like the
others, texted by the worker to the local gateway), sets up her family and books a full course session,
so she waits; a confirmed family cancels, she is promoted, and a real Celery
worker on Redis delivers the promotion and the reminders to her phone through
the HTTP SMS gateway backend (a local gateway started by the test), each text
signed 【协同育人门户】 with the weekday label. No email row is ever made for
her, and a text due at 23:00 waits until 07:00.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from courses.tests.factories import CourseFactory, make_session
from events import reminders
from events.models import Delivery
from events.tests import worker_fixtures
from members.formatting import when_label
from members.models import Guardian, User
from members.sms import sms_segments
from members.tests.factories import GuardianFactory
from members.tests.family_support import PASSWORD
from notifications.models import NotificationPreference
from notifications.selectors import notification_preference_for
from notifications.services import notification_preference_reset
from tests.fakes import SmsGateway
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker

PHONE = "13812345678"
SIGNATURE = "【协同育人门户】"


@pytest.fixture
def sms_gateway(monkeypatch):
    """A local SMS gateway; the worker's texts go to it, by its environment."""
    with SmsGateway() as server:
        monkeypatch.setenv("SMS_BACKEND", "members.sms.HttpApiSMSBackend")
        monkeypatch.setenv("SMS_OPTIONS", json.dumps({"url": server.url, "api_key": "test"}))
        yield server


def _codes(gateway, phone: str) -> list[str]:
    return [t for t in gateway.texts(phone) if "验证码" in t]


def _texts(gateway, phone: str) -> list[str]:
    """What she is told about courses (her sign-up code aside)."""
    return [t for t in gateway.texts(phone) if "验证码" not in t]


def _sign_up_by_phone(client, gateway, phone: str):
    """allauth's phone sign-up; the code is texted by the worker after the commit."""
    response = client.post(
        "/accounts/signup/",
        {
            "phone": phone,
            "email": "",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "agree_privacy": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/phone/verify/"
    wait_for(lambda: _codes(gateway, phone), timeout=60)
    code = re.search(r"\b(\d{6})\b", _codes(gateway, phone)[-1]).group(1)
    return client.post("/accounts/phone/verify/", {"code": code})


def _settled() -> bool:
    return not Delivery.objects.filter(status__in=["pending", "claimed"]).exists()


def _in_default_quiet_hours(moment: datetime.datetime) -> bool:
    # Her default quiet hours (22:00–07:00 Beijing time) rightly hold every text
    # until 07:00; a quarter of an hour's margin for the test's own run.
    local = timezone.localtime(moment).time()
    return local >= datetime.time(21, 45) or local < datetime.time(7, 0)


def _quiet_hours_in_the_way(starts_at: datetime.datetime) -> bool:
    """Whether the default quiet hours would hold a text the test waits for: the
    ones sent now (the worker sends by the real clock) or the 2-hour reminder
    (due two hours before the start, 20 hours away: at night for a run in the
    morning)."""
    return _in_default_quiet_hours(timezone.now()) or _in_default_quiet_hours(
        starts_at - datetime.timedelta(hours=2)
    )


def test_a_phone_only_parent_is_promoted_and_reminded_by_sms(
    sms_gateway, reminder_worker, smtp_server, client
):
    # (sms_gateway comes first: the worker reads SMS_BACKEND from the environment it starts with)
    # given a course session for one family, starting in 20 hours, taken by a
    # family that has an email address
    course = CourseFactory(title="亲子沟通的技巧")
    session = make_session(
        course, capacity=1, starts_in=datetime.timedelta(hours=20), venue="上清寺社区活动室"
    )
    starts_at = session.offering.starts_at
    first = GuardianFactory()
    taken = booking_create(
        offering_id=session.offering_id,
        family=first.family,
        booked_by=first.user,
        guardian_ids=[first.pk],
    )

    # when a new parent signs up with her phone number and the code sent to it
    response = _sign_up_by_phone(client, sms_gateway, PHONE)
    assert response.status_code == 302 and response["Location"] == reverse("members:family")
    user = User.objects.get(phone=PHONE)
    assert user.phone_verified and user.email == ""
    # then, without choosing anything, she is told by SMS and in the portal, not by email
    assert not NotificationPreference.objects.filter(user=user).exists()
    preference = notification_preference_for(user=user)
    assert (preference.in_site, preference.by_email, preference.by_sms) == (True, False, True)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "发到 138****5678" in page and "您还没有登记邮箱" in page
    if _quiet_hours_in_the_way(starts_at):
        # (run at night, or in the morning, when the 2-hour moment falls at night:
        # she moves her quiet hours to one minute six hours from now, far from
        # every text the test waits for: an explicit choice the outbox respects)
        quiet = timezone.localtime(timezone.now() + datetime.timedelta(hours=6))
        client.post(
            reverse("notifications:preferences"),
            {
                "in_site": "on",
                "by_sms": "on",
                "quiet_start": f"{quiet:%H:%M}",
                "quiet_end": f"{quiet + datetime.timedelta(minutes=1):%H:%M}",
            },
        )

    # when she sets up her family and books the full session
    response = client.post(
        reverse("members:family"),
        {"display_name": "小雨妈妈", "relation": "mother", "phone": PHONE},
    )
    assert response.status_code == 302
    guardian = Guardian.objects.get(user=user)
    client.post(reverse("courses:book", args=[session.pk]), {"guardian": [guardian.pk]})
    mine = Booking.objects.get(family=guardian.family)
    assert mine.status == Booking.Status.WAITING
    wait_for(lambda: any("已进入候补" in t for t in _texts(sms_gateway, PHONE)), timeout=60)

    # and the confirmed family cancels, so she is promoted
    booking_cancel(booking_id=taken.pk, family=first.family, cancelled_by=first.user)
    mine.refresh_from_db()
    assert mine.status == Booking.Status.CONFIRMED

    # then the worker texts her the promotion and the (late) 24-hour reminder
    wait_for(lambda: len(_texts(sms_gateway, PHONE)) >= 3, timeout=60)
    wait_for(_settled, timeout=60)
    # and, when the 2-hour moment comes, the 2-hour reminder
    reminders.reminder_pass_run(now=starts_at - datetime.timedelta(hours=2, minutes=-1))
    wait_for(lambda: len(_texts(sms_gateway, PHONE)) >= 4, timeout=60)
    wait_for(_settled, timeout=60)

    texts = _texts(sms_gateway, PHONE)
    day_and_time = when_label(starts_at, with_year=False)  # 12月3日 周三 18:00
    promoted = [t for t in texts if "候补转正" in t]
    reminded = [t for t in texts if t.startswith(f"{SIGNATURE}提醒：")]
    assert len(promoted) == 1 and len(reminded) == 2, texts
    assert promoted[0] == (
        f"{SIGNATURE}候补转正：亲子沟通的技巧，{when_label(starts_at)} 开始，上清寺社区活动室。"
        "不能参加请及时取消：https://portal.example.cn/me/"
    )
    for text in texts:
        assert text.startswith(SIGNATURE) and text.count(SIGNATURE) == 1, text
        assert day_and_time in text and "亲子沟通的技巧" in text, text
        assert sms_segments(text) <= 2, text
    assert all(sms_segments(t) == 1 for t in reminded)
    # each went out once, as an SMS row marked sent, and no email row was ever made for her
    rows = Delivery.objects.filter(user=user).exclude(purpose="account")
    assert set(rows.values_list("channel", flat=True)) == {"inbox", "sms"}
    assert sorted(rows.filter(channel="sms").values_list("purpose", "status")) == [
        ("confirmation", "sent"),
        ("promoted", "sent"),
        ("reminder", "sent"),
        ("reminder", "sent"),
    ]
    assert len(texts) == 4
    # the family with an email address got email, never a text
    assert not _texts(sms_gateway, first.user.phone)
    assert any(str(m["To"]) == first.user.email for m in smtp_server.messages)
    # and her sign-up code came once, signed once, from an outbox row that
    # holds neither the code nor the text
    codes = _codes(sms_gateway, PHONE)
    assert len(codes) == 1 and codes[0].startswith(SIGNATURE) and codes[0].count(SIGNATURE) == 1
    account = Delivery.objects.get(purpose="account", address=PHONE)
    assert (account.channel, account.status, account.account_kind) == (
        "sms",
        "sent",
        "verification_code",
    )
    code = re.search(r"\d{6}", codes[0]).group(0)
    assert code not in " ".join(
        str(v) for v in Delivery.objects.filter(pk=account.pk).values()[0].values()
    )

    # and a text due at 23:00 waits until 07:00: she books a second session, in
    # three days, and its time change is announced at 23:00 tomorrow
    notification_preference_reset(user=user)  # (the 22:00–07:00 default, if she had moved it)
    later = make_session(course, capacity=5, starts_in=datetime.timedelta(days=3))
    client.post(reverse("courses:book", args=[later.pk]), {"guardian": [guardian.pk]})
    night = (timezone.localtime() + datetime.timedelta(days=1)).replace(
        hour=23, minute=0, second=0, microsecond=0
    )
    reminders.notices_create(offering=later.offering, purpose="time_changed", moment=night)
    row = Delivery.objects.get(
        user=user, offering=later.offering, purpose="time_changed", channel="sms"
    )
    local_due = timezone.localtime(row.due_at)
    assert (local_due.date(), f"{local_due:%H:%M}") == (
        (night + datetime.timedelta(days=1)).date(),
        "07:00",
    )
    assert row.status == "pending" and "免打扰" in row.note
    assert not Delivery.objects.filter(user=user, channel="email").exists()
    _token, claimed = reminders.deliveries_claim_batch(
        now=row.due_at - datetime.timedelta(minutes=1), limit=50
    )
    assert row.pk not in claimed
