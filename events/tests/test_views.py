"""Event pages: public list and detail, registration, calendars, coordinator pages."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from events.models import CalendarFeed, Delivery, Event
from events.reminders import reminder_pass_run
from events.services import event_register
from events.tests.factories import make_event
from members.models import RoleAssignment
from members.tests.factories import (
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def unit():
    return MemberUnitFactory(name="溪口镇成人文化技术学校")


@pytest.fixture
def coordinator(unit):
    user = UserFactory(username="coordinator")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit)
    return user


def test_public_list_shows_published_events_in_constant_queries(
    client, django_assert_max_num_queries
):
    # given 25 published events, a draft and a cancelled one
    for i in range(25):
        make_event(title=f"亲子阅读工作坊 {i}", kind=Event.Kind.WORKSHOP)
    make_event(title="草稿活动", status=Event.Status.DRAFT)

    # when the list is read
    with django_assert_max_num_queries(6):
        response = client.get(reverse("events:list"))

    # then published events are shown, 20 to a page, drafts never
    assert response.status_code == 200
    assert response.content.decode().count('class="card"') == 20
    assert "草稿活动" not in response.content.decode()
    assert client.get(reverse("events:list"), {"kind": "workshop", "page": 2}).status_code == 200


def test_an_unknown_kind_in_the_query_string_gets_a_message_not_a_500(client):
    response = client.get(reverse("events:list"), {"kind": "<script>"}, follow=True)
    assert response.status_code == 200
    assert "未知的活动类型" in response.content.decode()


def test_a_draft_event_is_not_found(client):
    event = make_event(status=Event.Status.DRAFT)
    assert client.get(reverse("events:detail", args=[event.pk])).status_code == 404


def test_a_parent_registers_and_a_full_event_puts_the_next_family_on_the_waiting_list(client):
    # given an event with two places
    event = make_event(capacity=2)
    first, second = GuardianFactory(), GuardianFactory()

    # when two families of two register (a guardian and a child each)
    from members.tests.factories import ChildFactory

    for guardian in (first, second):
        child = ChildFactory(family=guardian.family)
        client.force_login(guardian.user)
        response = client.post(
            reverse("events:register", args=[event.pk]),
            {"guardians": [guardian.pk], "children": [child.pk]},
            follow=True,
        )
        assert response.status_code == 200

    # then the first is confirmed and the second waits, each with a receipt row
    assert Booking.objects.get(family=first.family).status == Booking.Status.CONFIRMED
    assert Booking.objects.get(family=second.family).status == Booking.Status.WAITING
    assert "候补名单" in response.content.decode()
    assert Delivery.objects.filter(purpose="confirmation").count() == 4


def test_registering_someone_outside_the_family_is_refused_with_a_message(client):
    event = make_event()
    guardian, stranger = GuardianFactory(), GuardianFactory()
    client.force_login(guardian.user)
    response = client.post(
        reverse("events:register", args=[event.pk]), {"guardians": [stranger.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not Booking.objects.exists()


def test_the_ics_download_has_the_event_in_utc(client):
    start = datetime.datetime(2030, 5, 18, 1, 30, tzinfo=datetime.UTC)
    event = make_event(starts_at=start)
    response = client.get(reverse("events:ics", args=[event.pk]))
    body = response.content.decode()
    assert response["Content-Type"].startswith("text/calendar")
    assert "DTSTART:20300518T013000Z" in body and event.title in body


def test_the_family_feed_lists_its_events_and_a_revoked_url_stops_working(client):
    # given a family registered for an event
    guardian = GuardianFactory()
    event = make_event()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    client.force_login(guardian.user)
    client.get(reverse("events:calendar"))
    old = CalendarFeed.objects.get(family=guardian.family)

    # when the secret URL is read, then revoked
    feed_url = reverse("events:calendar_feed", kwargs={"token": old.token})
    client.logout()
    assert event.title in client.get(feed_url).content.decode()
    client.force_login(guardian.user)
    client.post(reverse("events:calendar_revoke"))
    client.logout()

    # then the old URL is gone and the new one works
    assert client.get(feed_url).status_code == 404
    new = CalendarFeed.objects.get(family=guardian.family, revoked_at__isnull=True)
    assert new.token != old.token
    assert (
        client.get(reverse("events:calendar_feed", kwargs={"token": new.token})).status_code == 200
    )


def test_a_coordinator_creates_an_event_in_shanghai_time(client, coordinator, unit):
    # given a unit coordinator
    client.force_login(coordinator)

    # when the form is posted with Shanghai times
    response = client.post(
        reverse("events:manage_create"),
        {
            "title": "溪口镇家庭教育推进会",
            "kind": "promotion_meeting",
            "audience": "parents",
            "organiser_unit": unit.pk,
            "venue": "溪口镇成校三楼会议室",
            "starts_at": "2030-05-18T09:30",
            "ends_at": "2030-05-18T11:30",
            "capacity": "80",
            "status": "published",
            "reminder_hours": "24，3",
        },
    )

    # then the event exists with its places, stored in UTC, with its own rules
    event = Event.objects.get()
    assert response.status_code == 302
    assert event.offering.starts_at == datetime.datetime(2030, 5, 18, 1, 30, tzinfo=datetime.UTC)
    assert event.offering.capacity == 80
    assert sorted(event.reminder_rules.values_list("offset_minutes", flat=True)) == [180, 1440]


def test_bad_form_input_gets_chinese_messages(client, coordinator, unit):
    client.force_login(coordinator)
    response = client.post(
        reverse("events:manage_create"),
        {
            "title": "x",
            "kind": "lecture",
            "audience": "parents",
            "organiser_unit": unit.pk,
            "starts_at": "2030-05-18T09:30",
            "ends_at": "2030-05-18T08:30",
            "capacity": "10",
            "status": "draft",
            "reminder_hours": "明天",
        },
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "结束时间须晚于开始时间" in text and "请填写活动地点或线上链接" in text
    assert "提醒时间请填写小时数" in text
    assert not Event.objects.exists()


def test_coordinators_cannot_reach_other_units_events(client, coordinator):
    other = make_event(organiser_unit=MemberUnitFactory())
    client.force_login(coordinator)
    for name in ("manage_detail", "manage_edit", "manage_deliveries", "manage_qr"):
        assert client.get(reverse(f"events:{name}", args=[other.pk])).status_code == 404
    assert client.post(reverse("events:manage_cancel", args=[other.pk])).status_code == 404
    assert other.title not in client.get(reverse("events:manage_list")).content.decode()


def test_a_parent_cannot_open_coordinator_pages(client):
    event = make_event()
    client.force_login(GuardianFactory().user)
    assert client.get(reverse("events:manage_detail", args=[event.pk])).status_code == 403


def test_roster_check_in_and_delivery_log(client, coordinator, unit, django_assert_max_num_queries):
    # given an event of the coordinator's unit starting in 20 minutes (check-in is
    # open) with 15 registered families
    event = make_event(
        organiser_unit=unit, starts_at=timezone.now() + datetime.timedelta(minutes=20)
    )
    guardians = [GuardianFactory() for _ in range(15)]
    for guardian in guardians:
        event_register(
            event_id=event.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    Booking.objects.update(confirmed_at=timezone.now() - datetime.timedelta(days=2))
    client.force_login(coordinator)

    # when the coordinator opens the roster
    with django_assert_max_num_queries(14):
        response = client.get(reverse("events:manage_detail", args=[event.pk]))
    text = response.content.decode()

    # then every family is listed with a masked phone
    assert text.count('id="booking-') == 15
    phone = guardians[0].phone
    assert f"{phone[:3]}****{phone[-4:]}" in text and phone not in text

    # when one family is checked in
    booking = Booking.objects.get(family=guardians[0].family)
    client.post(
        reverse("events:manage_checkin", args=[event.pk]), {"booking": booking.pk, "present": "1"}
    )
    booking.refresh_from_db()
    assert booking.attendance == Booking.Attendance.PRESENT

    # and the delivery log shows the receipts and reminders
    reminder_pass_run()
    with django_assert_max_num_queries(12):
        log = client.get(reverse("events:manage_deliveries", args=[event.pk]))
    assert log.status_code == 200
    assert "开始前提醒" in log.content.decode()
    qr = client.get(reverse("events:manage_qr", args=[event.pk]))
    assert "<svg" in qr.content.decode()


def test_moving_an_event_in_the_edit_form_creates_one_notice_per_channel(client, coordinator, unit):
    event = make_event(organiser_unit=unit)
    guardian = GuardianFactory()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    client.force_login(coordinator)
    start = (event.offering.starts_at + datetime.timedelta(days=1)).astimezone(SHANGHAI)
    response = client.post(
        reverse("events:manage_edit", args=[event.pk]),
        {
            "title": event.title,
            "kind": event.kind,
            "audience": event.audience,
            "organiser_unit": unit.pk,
            "venue": event.venue,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "capacity": "100",
            "status": "published",
        },
    )
    assert response.status_code == 302
    assert Delivery.objects.filter(purpose="time_changed").count() == 2


def test_self_check_in_with_the_qr_code(client, unit):
    from events.services import event_checkin_code

    event = make_event(
        organiser_unit=unit, starts_at=timezone.now() + datetime.timedelta(minutes=30)
    )
    guardian = GuardianFactory()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    client.force_login(guardian.user)
    url = reverse("events:self_checkin", args=[event.pk, event_checkin_code(event=event)])
    client.post(url)
    assert Booking.objects.get().attendance == Booking.Attendance.PRESENT
    bad = client.post(
        reverse("events:self_checkin", args=[event.pk, "forged"]), follow=True
    ).content.decode()
    assert "签到码无效" in bad


def test_the_delivery_log_flags_failed_deliveries(client, coordinator, unit):
    # given an event of the coordinator's unit with one delivery that kept failing
    event = make_event(organiser_unit=unit)
    guardian = GuardianFactory()
    Delivery.objects.create(
        user=guardian.user,
        offering=event.offering,
        purpose=Delivery.Purpose.REMINDER,
        offset_minutes=1440,
        channel=Delivery.Channel.EMAIL,
        scheduled_for=timezone.now(),
        due_at=timezone.now(),
        status=Delivery.Status.FAILED,
        attempts=5,
        note="SMTPServerDisconnected: 邮件服务器无响应",
    )
    client.force_login(coordinator)

    # when the log is filtered to failures
    page = client.get(
        reverse("events:manage_deliveries", args=[event.pk]), {"status": "failed"}
    ).content.decode()

    # then the coordinator is told, and sees who and why
    assert "有 1 条消息多次尝试后仍未发出" in page
    assert str(guardian.user) in page and "邮件服务器无响应" in page and "发送失败" in page


def test_the_family_feed_has_course_sessions_too(client):
    from bookings.services import booking_create
    from courses.tests.factories import CourseFactory, make_session
    from events.services import calendar_feed_get_or_create

    # given a family booked on a course session and on an event
    guardian = GuardianFactory()
    session = make_session(CourseFactory(title="家长课堂：亲子沟通"))
    booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    event = make_event()
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    feed = calendar_feed_get_or_create(family=guardian.family)

    # when the feed is read
    body = client.get(reverse("events:calendar_feed", kwargs={"token": feed.token})).content

    # then both are in it
    text = body.decode()
    assert text.count("BEGIN:VEVENT") == 2
    assert event.title in text
