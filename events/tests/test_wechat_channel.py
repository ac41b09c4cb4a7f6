"""WeChat subscription messages as an outbox channel: a guardian who signed in
through the mini-program gets a WeChat row for reminders, time changes,
cancellations, promotions and receipts; the send task spends one acceptance per
message (wechat.services.subscription_deliver); no acceptance left, a refusal
(43101) or a message WeChat will not take falls back to one text, else one
in-site notice; WeChat busy is retried with the backoff. (PostgreSQL, eager
Celery after the commit, the fake WeChat server of tests/fakes.py, locmem SMS;
the real worker is in tests/integration/test_wechat_outbox_worker.py.)"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, Offering
from courses.tests.factories import CourseFactory, make_session
from events import reminders
from events.models import Delivery
from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory
from members.tests.family_support import sms_outbox_fixture  # noqa: F401 - fixture
from notifications.models import Notification, NotificationPreference
from notifications.selectors import notification_defaults_for, notification_preference_for
from notifications.services import notification_wechat_off
from wechat.models import SubscriptionGrant
from wechat.tests.factories import (
    SubscriptionGrantFactory,
    SubscriptionTemplateFactory,
    WeChatIdentityFactory,
)
from wechat.tests.support import wechat_server_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"
FIELDS = {"thing1": "title", "time2": "starts_at", "thing3": "venue", "thing4": "note"}


@pytest.fixture
def templates():
    """The administrator's templates: one per kind of message."""
    return {
        kind: SubscriptionTemplateFactory(kind=kind, template_id=f"T-{kind}", field_map=FIELDS)
        for kind in ("reminder", "time_change", "cancellation", "promotion", "receipt")
    }


def wechat_parent(*, openid="o_mum", phone=PHONE, email=""):
    """A parent who signed in through the mini-program (phone verified, no email)."""
    guardian = GuardianFactory(
        user__email=email, user__phone=phone or None, user__phone_verified=bool(phone)
    )
    WeChatIdentityFactory(user=guardian.user, openid=openid)
    return guardian


def no_quiet_hours(user) -> None:
    """Her saved choice, as the defaults give it, without quiet hours: the tests
    run at any hour, and a fallback text in the quiet hours would rightly wait."""
    NotificationPreference.objects.create(
        user=user,
        in_site=True,
        by_email=False,
        by_sms=False,
        by_wechat=True,
        quiet_start=datetime.time(12, 0),
        quiet_end=datetime.time(12, 0),
    )


def accept(user, kind: str, times: int = 1) -> None:
    for _n in range(times):
        SubscriptionGrantFactory(user=user, template_id=f"T-{kind}")


def waiting_then_promoted(guardian, committed, *, title="亲子沟通的技巧", venue="上清寺社区活动室"):
    """A full session; ``guardian``'s family waits, the other family cancels: promoted."""
    session = make_session(CourseFactory(title=title), capacity=1, venue=venue)
    first = GuardianFactory()
    taken = committed(
        lambda: booking_services.booking_create(
            offering_id=session.offering_id,
            family=first.family,
            booked_by=first.user,
            guardian_ids=[first.pk],
        )
    )
    mine = committed(
        lambda: booking_services.booking_create(
            offering_id=session.offering_id,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    )
    assert mine.status == Booking.Status.WAITING
    committed(
        lambda: booking_services.booking_cancel(
            booking_id=taken.pk, family=first.family, cancelled_by=first.user
        )
    )
    mine.refresh_from_db()
    assert mine.status == Booking.Status.CONFIRMED
    return session, mine


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run(change):
        # each change commits on its own, and its kick runs after that commit
        with django_capture_on_commit_callbacks(execute=True):
            return change()

    return run


def _row(user, purpose, channel):
    return Delivery.objects.get(user=user, purpose=purpose, channel=channel)


# --- the channel choice ------------------------------------------------------------


def test_signing_in_through_the_mini_program_makes_wechat_the_default_instead_of_sms():
    # given a phone-only parent, before and after she signs in through the mini-program
    guardian = GuardianFactory(user__email="", user__phone=PHONE, user__phone_verified=True)
    before = notification_defaults_for(user=guardian.user)
    assert (before["by_sms"], before["by_wechat"]) == (True, False)
    WeChatIdentityFactory(user=guardian.user)
    user = type(guardian.user).objects.get(pk=guardian.user.pk)
    after = notification_defaults_for(user=user)
    # then WeChat reaches her, and a text is only the fallback
    assert (after["in_site"], after["by_wechat"], after["by_sms"]) == (True, True, False)


def test_wechat_rows_only_for_guardians_with_an_identity_and_the_channel_on(sms_outbox):
    # given a session with three families: a WeChat parent, one who turned
    # WeChat off, and one who never signed in through the mini-program
    session = make_session(CourseFactory(), capacity=5)
    on = wechat_parent(openid="o_on")
    off = wechat_parent(openid="o_off", phone="13900001111")
    NotificationPreference.objects.create(user=off.user, by_wechat=False, by_email=False)
    plain = GuardianFactory()
    for guardian in (on, off, plain):
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    # then only the first has a WeChat receipt row
    wechat = Delivery.objects.filter(channel="wechat")
    assert list(wechat.values_list("user_id", "purpose")) == [(on.user_id, "confirmation")]
    # and an invitation never goes by WeChat
    from members.services import family_invitation_create

    family_invitation_create(
        family=on.family,
        invited_by=on.user,
        relation="father",
        phone="13600001111",
        base_url="http://testserver/",
    )
    assert not Delivery.objects.filter(purpose="invitation", channel="wechat").exists()


def test_the_preferences_page_offers_wechat_only_to_someone_with_an_identity(client):
    plain = GuardianFactory()
    client.force_login(plain.user)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "by_wechat" not in page
    # saving without the choice keeps WeChat on for later
    client.post(
        reverse("notifications:preferences"),
        {"in_site": "on", "by_email": "on", "quiet_start": "22:00", "quiet_end": "07:00"},
    )
    assert NotificationPreference.objects.get(user=plain.user).by_wechat is True

    guardian = wechat_parent()
    client.force_login(guardian.user)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert 'name="by_wechat"' in page and "服务通知" in page
    assert "checked" in page.split('name="by_wechat"')[1].split(">")[0]
    assert 'name="by_wechat_shown"' in page
    form = {"in_site": "on", "by_sms": "on", "quiet_start": "22:00", "quiet_end": "07:00"}
    # a client that does not offer the box (no by_wechat_shown) leaves WeChat on
    client.post(reverse("notifications:preferences"), form)
    assert NotificationPreference.objects.get(user=guardian.user).by_wechat is True
    # unticked on the page and saved: off
    client.post(reverse("notifications:preferences"), {**form, "by_wechat_shown": "1"})
    assert NotificationPreference.objects.get(user=guardian.user).by_wechat is False
    # ticked again: on
    client.post(
        reverse("notifications:preferences"), {**form, "by_wechat_shown": "1", "by_wechat": "on"}
    )
    assert NotificationPreference.objects.get(user=guardian.user).by_wechat is True


def test_turning_wechat_off_without_a_saved_choice_saves_the_defaults_with_wechat_off():
    guardian = wechat_parent()
    assert notification_wechat_off(user=guardian.user) is True
    saved = NotificationPreference.objects.get(user=guardian.user)
    assert (saved.in_site, saved.by_email, saved.by_sms, saved.by_wechat) == (
        True,
        False,
        False,
        False,
    )
    assert notification_wechat_off(user=guardian.user) is False


# --- sending -----------------------------------------------------------------------------


def test_a_promotion_goes_as_one_subscription_message(
    wechat_server, templates, sms_outbox, committed
):
    # given a WeChat parent who accepted one promotion message (and nothing else)
    guardian = wechat_parent()
    accept(guardian.user, "promotion")

    # when she is promoted from the waiting list
    session, booking = waiting_then_promoted(guardian, committed)
    # and the worker is kicked again and again
    for _kick in range(3):
        committed(reminders.deliveries_kick)

    # then WeChat carried the promotion once, with the course, time, place and a note
    (message,) = [m for m in wechat_server.sent_to("o_mum") if m["template_id"] == "T-promotion"]
    local = timezone.localtime(session.offering.starts_at, SHANGHAI)
    assert message["data"] == {
        "thing1": {"value": "亲子沟通的技巧"},
        "time2": {"value": f"{local:%Y年%m月%d日 %H:%M}"},
        "thing3": {"value": "上清寺社区活动室"},
        "thing4": {"value": "已转为正式报名，不能参加请及时取消"},
    }
    assert _row(guardian.user, "promoted", "wechat").status == "sent"
    # her acceptance is spent, and no text of the promotion went
    assert SubscriptionGrant.objects.get(user=guardian.user).spent_at is not None
    assert not [m for m in sms_outbox if "候补转正" in m.text]
    assert not Delivery.objects.filter(user=guardian.user, purpose="promoted", channel="sms")


def test_with_no_acceptance_left_the_guardian_gets_one_text_instead(
    wechat_server, templates, sms_outbox, committed
):
    # given a WeChat parent who accepted nothing
    guardian = wechat_parent()
    no_quiet_hours(guardian.user)
    # when she is promoted
    waiting_then_promoted(guardian, committed)
    committed(reminders.deliveries_kick)

    # then WeChat got nothing, the WeChat row says why, and one text went instead
    assert wechat_server.sent_to("o_mum") == []
    row = _row(guardian.user, "promoted", "wechat")
    assert row.status == "skipped"
    assert row.note == "没有可用的微信订阅次数，已改发短信。"
    assert _row(guardian.user, "promoted", "sms").status == "sent"
    promoted = [m for m in sms_outbox if "候补转正" in m.text]
    assert [m.phone for m in promoted] == [PHONE]
    # and trying the WeChat row again (a duplicated task) does not text twice
    reminders._wechat_fallback(row, "没有可用的微信订阅次数")
    committed(reminders.deliveries_kick)
    assert len([m for m in sms_outbox if "候补转正" in m.text]) == 1


def test_a_refusal_turns_wechat_off_and_falls_back(wechat_server, templates, sms_outbox, committed):
    # given a WeChat parent with an acceptance on file that WeChat no longer honours
    guardian = wechat_parent()
    no_quiet_hours(guardian.user)
    accept(guardian.user, "promotion", times=2)
    wechat_server.answers["o_mum"] = 43101
    # when she is promoted
    session, _booking = waiting_then_promoted(guardian, committed)
    committed(reminders.deliveries_kick)

    # then the row records the refusal, she is texted, and her WeChat channel is off
    row = _row(guardian.user, "promoted", "wechat")
    assert row.status == "skipped"
    assert row.note == "用户在微信中拒收（43101），已关闭微信渠道，已改发短信。"
    assert [m.phone for m in sms_outbox if "候补转正" in m.text] == [PHONE]
    user = type(guardian.user).objects.get(pk=guardian.user.pk)
    assert notification_preference_for(user=user).by_wechat is False
    assert not SubscriptionGrant.objects.filter(user=user, refused=False).exists()
    # and the next message is not planned for WeChat at all
    committed(
        lambda: reminders.notices_create(
            offering=session.offering, purpose="time_changed", moment=timezone.now()
        )
    )
    assert not Delivery.objects.filter(user=user, purpose="time_changed", channel="wechat")


def test_without_a_phone_the_fallback_is_one_in_site_notice(
    wechat_server, templates, sms_outbox, committed
):
    # given a WeChat parent without a phone who turned the inbox off
    guardian = wechat_parent(phone="", email="")
    NotificationPreference.objects.create(
        user=guardian.user, in_site=False, by_email=False, by_sms=False, by_wechat=True
    )
    waiting_then_promoted(guardian, committed)
    committed(reminders.deliveries_kick)
    # then the promotion reaches her in the portal's inbox, once
    assert _row(guardian.user, "promoted", "wechat").note == (
        "没有可用的微信订阅次数，已改发站内通知。"
    )
    assert _row(guardian.user, "promoted", "inbox").status == "sent"
    assert Notification.objects.filter(user=guardian.user, kind="events.promoted").count() == 1
    assert sms_outbox == []


def test_wechat_busy_is_retried_with_the_backoff_and_the_acceptance_kept(
    wechat_server, templates, sms_outbox, committed
):
    guardian = wechat_parent()
    accept(guardian.user, "promotion")
    wechat_server.answers["o_mum"] = -1  # 系统繁忙
    waiting_then_promoted(guardian, committed)
    committed(reminders.deliveries_kick)
    row = _row(guardian.user, "promoted", "wechat")
    assert (row.status, row.attempts, row.note) == ("pending", 1, "微信暂时无法送达，稍后重试。")
    assert row.due_at > timezone.now() + datetime.timedelta(minutes=1)
    assert SubscriptionGrant.objects.get(user=guardian.user).spent_at is None
    assert not [m for m in sms_outbox if "候补转正" in m.text]
    # when WeChat answers again and the row is due, it goes, once
    del wechat_server.answers["o_mum"]
    token, claimed = reminders.deliveries_claim_batch(
        now=row.due_at + datetime.timedelta(seconds=1), limit=10
    )
    reminders.delivery_send_batch(delivery_ids=claimed, claim_token=str(token))
    assert _row(guardian.user, "promoted", "wechat").status == "sent"
    assert len(wechat_server.sent_to("o_mum")) == 1


def test_subscription_messages_are_not_held_back_by_quiet_hours_but_their_texts_are():
    # given a WeChat parent who also chose SMS, and a move announced at 23:00 Beijing time
    guardian = wechat_parent()
    NotificationPreference.objects.create(user=guardian.user, by_sms=True, by_email=False)
    session = make_session(CourseFactory(), capacity=5, starts_in=datetime.timedelta(days=3))
    booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    night = (timezone.localtime(timezone.now(), SHANGHAI) + datetime.timedelta(days=1)).replace(
        hour=23, minute=0, second=0, microsecond=0
    )
    reminders.notices_create(offering=session.offering, purpose="time_changed", moment=night)
    # then the WeChat row is due at once, the text at 07:00
    wechat = _row(guardian.user, "time_changed", "wechat")
    text = _row(guardian.user, "time_changed", "sms")
    assert wechat.due_at == night and wechat.note == ""
    assert f"{timezone.localtime(text.due_at, SHANGHAI):%H:%M}" == "07:00"


def test_a_fallback_text_at_night_waits_for_the_end_of_the_quiet_hours(sms_outbox, monkeypatch):
    # given a WeChat row that could not be delivered at 23:30 Beijing time
    guardian = wechat_parent()
    session = make_session(CourseFactory(), capacity=5, starts_in=datetime.timedelta(days=3))
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    row = _row(guardian.user, "confirmation", "wechat")
    night = timezone.localtime(timezone.now(), SHANGHAI).replace(hour=23, minute=30)
    monkeypatch.setattr(reminders.timezone, "now", lambda: night)
    note = reminders._wechat_fallback(row, "没有可用的微信订阅次数")
    # then the text is written for 07:00, and says so
    text = _row(guardian.user, "confirmation", "sms")
    assert note == "没有可用的微信订阅次数，已改发短信。"
    assert f"{timezone.localtime(text.due_at, SHANGHAI):%H:%M}" == "07:00"
    assert text.note.startswith("微信订阅消息未能送达，改发短信。免打扰时段") and booking


def test_the_coordinators_delivery_log_shows_wechat_rows_and_their_fallback(
    client, wechat_server, templates, sms_outbox, committed
):
    from events.tests.factories import make_event

    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user
    unit = coordinator.role_assignments.get().unit
    event = make_event(organiser_unit=unit, capacity=5, title="亲子沟通讲座")
    guardian = wechat_parent()
    from events.services import event_register

    committed(
        lambda: event_register(
            event_id=event.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    )
    client.force_login(coordinator)
    page = client.get(reverse("events:manage_deliveries", args=[event.pk])).content.decode()
    assert "微信订阅消息" in page
    assert "没有可用的微信订阅次数，已改发短信。" in page
    assert PHONE not in page


def test_planning_asks_whether_wechat_reaches_each_guardian_without_a_query_each():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given two sessions whose 2-hour reminder is due: one with 3 families, one with
    # 12, half of the guardians WeChat parents
    def session_with(families: int):
        session = make_session(
            CourseFactory(), capacity=20, starts_in=datetime.timedelta(minutes=90)
        )
        for n in range(families):
            phone = f"139{session.pk % 10000:04d}{n:04d}"
            guardian = (
                GuardianFactory()
                if n % 2
                else wechat_parent(openid=f"o_{session.pk}_{n}", phone=phone)
            )
            booking_services.booking_create(
                offering_id=session.offering_id,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=[guardian.pk],
            )
        return session

    small, large = session_with(3), session_with(12)
    Delivery.objects.all().delete()
    # (booked before the reminder's moment, 30 minutes ago: they get it)
    Booking.objects.update(confirmed_at=timezone.now() - datetime.timedelta(hours=1))

    def planned_queries(session) -> int:
        others = Offering.objects.exclude(pk=session.offering_id).filter(status="open")
        held = list(others.values_list("pk", flat=True))
        others.update(status="cancelled")
        try:
            with CaptureQueriesContext(connection) as queries:
                reminders.reminders_plan_due(now=timezone.now())
        finally:
            Offering.objects.filter(pk__in=held).update(status="open")
        return len(queries)

    # then planning either costs the same number of queries
    assert planned_queries(small) == planned_queries(large)
    wechat = Delivery.objects.filter(purpose="reminder", channel="wechat")
    assert wechat.filter(offering=small.offering).count() == 2
    assert wechat.filter(offering=large.offering).count() == 6
