"""Parents reached on their phones: a phone-only guardian gets SMS rows (and no
email rows) by default, each text is signed once, names the course or event,
gives its local time with the weekday and the place or 线上, stays within two
parts, and a promotion carries an absolute link. (PostgreSQL, locmem SMS; the
real worker is in tests/integration/test_phone_only_parent.py.)"""

import datetime
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from courses.tests.factories import CourseFactory, make_session
from events import reminders
from events.models import Delivery
from events.tests.factories import make_event
from members.formatting import when_label
from members.sms import ConsoleSMSBackend, LocmemSMSBackend, send_sms, sms_segments, sms_signed
from members.tests.factories import GuardianFactory, UserFactory
from notifications.models import NotificationPreference

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGNATURE = "【协同育人门户】"


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    settings.SMS_OPTIONS = {}
    LocmemSMSBackend.reset()
    yield LocmemSMSBackend.outbox
    LocmemSMSBackend.reset()


def phone_only_guardian(phone="13812341234", **kwargs):
    user = UserFactory(email="", phone=phone, phone_verified=True)
    return GuardianFactory(user=user, phone=phone, **kwargs)


def _send_all(now=None):
    token, ids = reminders.deliveries_claim_batch(now=now or timezone.now(), limit=100)
    return reminders.delivery_send_batch(delivery_ids=ids, claim_token=str(token))


def _daytime():
    """Tomorrow 10:00 in Shanghai: outside the quiet hours whenever the test runs."""
    day = (timezone.now() + datetime.timedelta(days=1)).astimezone(SHANGHAI)
    return day.replace(hour=10, minute=0, second=0, microsecond=0)


# --- the signature -----------------------------------------------------------------


def test_every_text_is_signed_once(settings):
    assert sms_signed("验证码 123456") == f"{SIGNATURE}验证码 123456"
    assert sms_signed(f"{SIGNATURE}验证码 123456") == f"{SIGNATURE}验证码 123456"
    # a provider that wants another signature gets it instead of the old one, never both
    settings.SMS_SIGNATURE = "【渝中家长学校】"
    assert sms_signed(f"{SIGNATURE}您好") == "【渝中家长学校】您好"
    assert sms_signed("【渝中家长学校】您好") == "【渝中家长学校】您好"
    # and an empty setting leaves signing to the provider
    settings.SMS_SIGNATURE = ""
    assert sms_signed(f"{SIGNATURE}您好") == "您好"


def test_the_console_backend_of_the_embedded_default_prints_the_signed_text(settings, capsys):
    settings.SMS_BACKEND = "members.sms.ConsoleSMSBackend"
    settings.SMS_OPTIONS = {}
    assert isinstance(ConsoleSMSBackend(), ConsoleSMSBackend)

    send_sms(phone="13812341234", text="提醒：亲子沟通，12月3日 周三 18:00 开始，社区活动室。")

    out = capsys.readouterr().out
    assert f"[SMS to 138****1234] {SIGNATURE}提醒：亲子沟通，12月3日 周三 18:00" in out
    assert "13812341234" not in out


# --- channels ------------------------------------------------------------------------


def test_a_phone_only_guardian_is_told_by_sms_and_in_site_never_by_email(sms_outbox):
    # given a phone-only guardian (defaults: no saved preference) and a course session
    guardian = phone_only_guardian()
    course = CourseFactory(title="亲子沟通的技巧")
    session = make_session(course, capacity=5, venue="上清寺社区活动室")

    # when she books and the receipt is sent in the daytime
    booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    now = _daytime()
    Delivery.objects.update(due_at=now)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reminders.timezone, "now", lambda: now)
        _send_all(now)

    # then there is an in-site row and an SMS row, no email row
    assert Counter(Delivery.objects.values_list("channel", "status")) == Counter(
        {("inbox", "sent"): 1, ("sms", "sent"): 1}
    )
    [text] = sms_outbox
    assert text.phone == "13812341234"
    assert text.text == (
        f"{SIGNATURE}报名成功：亲子沟通的技巧，{when_label(session.offering.starts_at)} 开始，上清寺社区活动室。"
    )
    assert sms_segments(text.text) == 1


def test_a_saved_choice_without_sms_is_respected():
    guardian = phone_only_guardian()
    NotificationPreference.objects.create(user=guardian.user, by_sms=False, by_email=False)
    session = make_session(CourseFactory())

    booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )

    assert list(Delivery.objects.values_list("channel", flat=True)) == ["inbox"]


def test_a_receipt_due_at_2300_waits_until_0700():
    # given a phone-only guardian (default quiet hours 22:00–07:00) booking at 23:00
    guardian = phone_only_guardian()
    event = make_event(starts_at=_daytime() + datetime.timedelta(days=3))
    night = (_daytime() + datetime.timedelta(days=1)).replace(hour=23)
    booking = Booking.objects.create(
        offering=event.offering,
        family=guardian.family,
        status=Booking.Status.CONFIRMED,
        party_size=1,
        confirmed_at=night,
    )

    reminders.booking_notices_create(
        offering=event.offering, bookings=[booking], purpose="confirmation", now=night
    )

    row = Delivery.objects.get(channel="sms")
    local_due = row.due_at.astimezone(SHANGHAI)
    assert (local_due.date(), f"{local_due:%H:%M}") == (
        (night + datetime.timedelta(days=1)).date(),
        "07:00",
    )
    assert row.note == "免打扰时段，短信推迟到 07:00。"
    assert Delivery.objects.get(channel="inbox").due_at == night


# --- the texts ---------------------------------------------------------------------


LONG_TITLE = "家庭教育公益大讲堂：如何在青春期与孩子建立信任、好好沟通并共同成长"
LONG_VENUE = "渝中区上清寺街道社区党群服务中心三楼多功能报告厅"


def _texts_for_each_purpose(sms_outbox, settings, *, venue, online_url=""):
    settings.PORTAL_BASE_URL = "https://jiaxiao.yuzhong.gov.cn"
    guardian = phone_only_guardian()
    event = make_event(
        title=LONG_TITLE,
        venue=venue,
        online_url=online_url,
        starts_at=_daytime() + datetime.timedelta(days=2),
    )
    booking = Booking.objects.create(
        offering=event.offering,
        family=guardian.family,
        status=Booking.Status.CONFIRMED,
        party_size=2,
        confirmed_at=timezone.now(),
        promoted_at=timezone.now(),
    )
    for purpose in ("confirmation", "promoted", "time_changed"):
        reminders.booking_notices_create(
            offering=event.offering, bookings=[booking], purpose=purpose
        )
    reminders._create_rows(
        offering=event.offering,
        bookings=[(booking.pk, guardian.family_id)],
        purpose="reminder",
        offset_minutes=120,
        scheduled_for=event.offering.starts_at - datetime.timedelta(hours=2),
        due_at=timezone.now(),
    )
    now = _daytime()
    Delivery.objects.update(due_at=now)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reminders.timezone, "now", lambda: now)
        _send_all(now)
    by_purpose = {}
    for row, message in zip(
        Delivery.objects.filter(channel="sms").order_by("sent_at", "pk"), sms_outbox, strict=True
    ):
        by_purpose[row.purpose] = message.text
    return event, by_purpose


def test_each_text_names_the_event_its_weekday_time_and_place_within_two_parts(
    sms_outbox, settings
):
    event, texts = _texts_for_each_purpose(sms_outbox, settings, venue=LONG_VENUE)

    assert set(texts) == {"confirmation", "promoted", "time_changed", "reminder"}
    for purpose, text in texts.items():
        # (a reminder, a day or hours ahead, never needs the year)
        when = when_label(
            event.offering.starts_at, with_year=False if purpose == "reminder" else None
        )
        assert text.startswith(SIGNATURE) and text.count(SIGNATURE) == 1, purpose
        assert when in text and "周" in when, purpose
        assert LONG_TITLE[:12] in text and "…" in text, purpose  # a long name is cut
        assert LONG_VENUE[:10] in text, purpose
        assert sms_segments(text) <= 2, (purpose, len(text))
    # the reminder fits one message even with a long name and place
    assert sms_segments(texts["reminder"]) == 1, len(texts["reminder"])
    assert texts["reminder"].startswith(f"{SIGNATURE}提醒：")
    # the promotion says what to do and links to the event, absolutely
    assert texts["promoted"].startswith(f"{SIGNATURE}候补转正：")
    assert texts["promoted"].endswith(
        f"不能参加请及时取消：https://jiaxiao.yuzhong.gov.cn/events/{event.pk}/"
    )


def test_an_online_event_says_online(sms_outbox, settings):
    _event, texts = _texts_for_each_purpose(
        sms_outbox, settings, venue="", online_url="https://meeting.example.cn/j/123456789"
    )
    assert "，线上。" in texts["reminder"]
    assert "meeting.example.cn" not in texts["reminder"]


def test_a_course_promotion_links_to_my_learning(sms_outbox, settings):
    settings.PORTAL_BASE_URL = "https://jiaxiao.yuzhong.gov.cn"
    guardian = phone_only_guardian()
    session = make_session(CourseFactory(title="亲子沟通的技巧"), capacity=1)
    other = GuardianFactory()
    first = booking_services.booking_create(
        offering_id=session.offering_id,
        family=other.family,
        booked_by=other.user,
        guardian_ids=[other.pk],
    )
    waiting = booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    assert waiting.status == Booking.Status.WAITING
    now = _daytime()

    def send_in_the_daytime():
        Delivery.objects.filter(status="pending").update(due_at=now)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(reminders.timezone, "now", lambda: now)
            _send_all(now)

    send_in_the_daytime()  # the receipts
    booking_services.booking_cancel(
        booking_id=first.pk, family=other.family, cancelled_by=other.user
    )
    send_in_the_daytime()  # the promotion

    mine = [m.text for m in sms_outbox if m.phone == guardian.user.phone]
    [promoted] = [t for t in mine if "候补转正" in t]
    assert promoted == (
        f"{SIGNATURE}候补转正：亲子沟通的技巧，{when_label(session.offering.starts_at)} 开始，社区活动室。"
        "不能参加请及时取消：https://jiaxiao.yuzhong.gov.cn/me/"
    )
    [waiting_text] = [t for t in mine if "已进入候补" in t]
    assert when_label(session.offering.starts_at) in waiting_text
    # the other family has an email address: no texts for it
    assert not [m for m in sms_outbox if m.phone == other.user.phone]
