"""The one outbound path: every message to a family is a Delivery row, once per
recipient and chosen channel, written with the change and sent after the commit.
(PostgreSQL, locmem mail and SMS; the real worker is in tests/integration/.)"""

import datetime
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from courses.tests.factories import CourseFactory, make_session
from events import reminders
from events.models import Delivery
from events.reminders import reminder_pass_run
from events.services import event_cancel, event_register, event_registration_cancel, event_update
from events.tests.factories import make_event
from members.formatting import when_label
from members.models import RoleAssignment
from members.services import family_invitation_create
from members.sms import LocmemSMSBackend, sms_segments
from members.tests.factories import GuardianFactory, RoleAssignmentFactory, UserFactory
from notifications.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    LocmemSMSBackend.reset()
    yield LocmemSMSBackend.outbox
    LocmemSMSBackend.reset()


def _rows():
    return Counter(Delivery.objects.values_list("user_id", "purpose", "channel"))


def _register(event, guardians):
    return event_register(
        event_id=event.pk,
        family=guardians[0].family,
        booked_by=guardians[0].user,
        guardian_ids=[g.pk for g in guardians],
    )


def test_every_kind_of_message_is_one_row_per_recipient_and_chosen_channel(
    client, sms_outbox, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # given an event for two persons, and family A: a mother (email + in-site, the
    # defaults), a father who turned email off and SMS on, and a grandparent whose
    # account is disabled
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user
    unit = coordinator.role_assignments.get().unit
    event = make_event(organiser_unit=unit, capacity=2, title="亲子沟通讲座")
    mother = GuardianFactory()
    father = GuardianFactory(family=mother.family)
    NotificationPreference.objects.create(user=father.user, by_email=False, by_sms=True)
    grandparent = GuardianFactory(family=mother.family, user__is_active=False)
    # and family B: one guardian with the defaults
    other = GuardianFactory()

    def committed(change):
        # each change commits on its own, and its kick runs after that commit
        with django_capture_on_commit_callbacks(execute=True):
            return change()

    # when A registers both parents (full) and B registers (waiting) …
    booking_a = committed(lambda: _register(event, [mother, father]))
    booking_b = committed(lambda: _register(event, [other]))
    assert booking_b.status == Booking.Status.WAITING
    # … A withdraws (B is promoted) …
    committed(
        lambda: event_registration_cancel(
            event_id=event.pk, family=mother.family, cancelled_by=mother.user
        )
    )
    # … the event moves, its new 24-hour moment comes, and it is cancelled …
    new_start = event.offering.starts_at + datetime.timedelta(days=1)
    committed(
        lambda: event_update(
            event_id=event.pk,
            updated_by=None,
            starts_at=new_start,
            ends_at=new_start + datetime.timedelta(hours=2),
        )
    )
    committed(lambda: reminder_pass_run(now=new_start - datetime.timedelta(hours=24, minutes=-1)))
    committed(lambda: event_cancel(event_id=event.pk, cancelled_by=None))
    # … and A's mother invites a co-guardian by email; the beat pass runs once more
    invitation = committed(
        lambda: family_invitation_create(
            family=mother.family,
            invited_by=mother.user,
            relation="grandparent",
            email="nainai@example.cn",
            base_url="https://portal.example.cn/",
        )
    )
    committed(reminder_pass_run)

    # then each message is one row per recipient and channel they chose, and the
    # disabled account has none
    both = ("email", "inbox")
    expected = Counter(
        [(mother.user_id, purpose, c) for purpose in ("confirmation", "withdrawn") for c in both]
        + [
            (father.user_id, purpose, c)
            for purpose in ("confirmation", "withdrawn")
            for c in ("inbox", "sms")
        ]
        + [
            (other.user_id, purpose, c)
            for purpose in ("confirmation", "promoted", "time_changed", "reminder", "cancelled")
            for c in both
        ]
        + [(None, "invitation", "email")]
    )
    assert _rows() == expected
    assert not Delivery.objects.filter(user=grandparent.user).exists()
    assert {b.pk for b in (booking_a, booking_b)} == set(
        Delivery.objects.exclude(booking=None).values_list("booking_id", flat=True)
    )
    # and every email and in-site row went out (an SMS may wait for the quiet hours)
    assert not Delivery.objects.exclude(channel="sms").exclude(status="sent").exists()
    promoted = Notification.objects.get(user=other.user, kind="events.promoted")
    assert promoted.url == reverse("events:detail", args=[event.pk])
    assert [m.to for m in mail.outbox if m.subject.startswith("候补转正")] == [[other.user.email]]
    [invite] = [m for m in mail.outbox if m.to == ["nainai@example.cn"]]
    assert f"https://portal.example.cn/family/join/{invitation.token}/" in invite.body

    # and the coordinator's delivery log lists them, with the new kinds by name
    client.force_login(coordinator)
    with django_assert_max_num_queries(12):
        log = client.get(reverse("events:manage_deliveries", args=[event.pk]))
    text = log.content.decode()
    assert log.status_code == 200
    for label in ("报名回执", "取消报名回执", "候补转正", "时间变更", "开始前提醒", "活动取消"):
        assert label in text
    # the father's receipt and withdrawal receipt: a summary line and a detail row each
    assert text.count("<td>短信</td>") == 4


def test_a_course_booking_gets_a_receipt_and_a_withdrawal_gets_one_too(
    client, django_capture_on_commit_callbacks
):
    # given a published course session and a signed-in parent
    course = CourseFactory(title="家长课堂：陪伴孩子写作业")
    session = make_session(course, capacity=5)
    guardian = GuardianFactory()
    client.force_login(guardian.user)

    # when the parent books on the course page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("courses:book", args=[session.pk]), {"guardian": [guardian.pk]})

    # then one receipt by email (with the course page and a calendar file) and in-site
    booking = Booking.objects.get(family=guardian.family)
    [receipt] = mail.outbox
    assert receipt.to == [guardian.user.email]
    assert receipt.subject == "报名成功：家长课堂：陪伴孩子写作业"
    assert f"/courses/{course.pk}/" in receipt.body and "北京时间" in receipt.body
    assert [name for name, _c, _t in receipt.attachments] == ["event.ics"]
    assert guardian.user.notifications.filter(kind="events.confirmation").count() == 1

    # when the family withdraws on My learning
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("courses:cancel", args=[booking.pk]))

    # then it gets one withdrawal receipt, without a calendar file that would re-add it
    assert [m.subject for m in mail.outbox] == [
        "报名成功：家长课堂：陪伴孩子写作业",
        "已取消报名：家长课堂：陪伴孩子写作业",
    ]
    assert mail.outbox[1].attachments == []
    assert "名额已留给其他家庭" in mail.outbox[1].body
    assert guardian.user.notifications.filter(kind="events.withdrawn").count() == 1
    assert Delivery.objects.filter(booking=booking, purpose="withdrawn").count() == 2


def test_a_waiting_receipt_says_so_and_a_promoted_course_family_is_sent_to_my_learning(
    django_capture_on_commit_callbacks,
):
    session = make_session(CourseFactory(title="亲子阅读"), capacity=1)
    first, second = GuardianFactory(), GuardianFactory()
    with django_capture_on_commit_callbacks(execute=True):
        mine = booking_services.booking_create(
            offering_id=session.offering_id,
            family=first.family,
            booked_by=first.user,
            guardian_ids=[first.pk],
        )
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=second.family,
            booked_by=second.user,
            guardian_ids=[second.pk],
        )
    assert [m.subject for m in mail.outbox if m.to == [second.user.email]] == [
        "已进入候补：亲子阅读"
    ]

    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(booking_id=mine.pk, family=first.family, cancelled_by=None)

    notice = Notification.objects.get(user=second.user, kind="events.promoted")
    assert notice.url == reverse("portal:my_learning")
    [email] = [m for m in mail.outbox if m.subject == "候补转正：亲子阅读"]
    assert email.to == [second.user.email] and "/me/" in email.body


def test_a_guardian_with_email_off_gets_no_email_row_and_an_inactive_one_no_row():
    # given a family: one guardian with email off, one whose account is disabled
    session = make_session(CourseFactory())
    quiet = GuardianFactory()
    NotificationPreference.objects.create(user=quiet.user, by_email=False)
    disabled = GuardianFactory(family=quiet.family, user__is_active=False)

    # when the family books
    booking_services.booking_create(
        offering_id=session.offering_id,
        family=quiet.family,
        booked_by=quiet.user,
        guardian_ids=[quiet.pk],
    )

    # then only an in-site receipt for the first, nothing for the disabled one
    assert _rows() == Counter({(quiet.user_id, "confirmation", "inbox"): 1})
    assert not Delivery.objects.filter(user=disabled.user).exists()


def test_a_row_whose_account_was_disabled_after_writing_is_skipped(
    django_capture_on_commit_callbacks,
):
    session = make_session(CourseFactory())
    guardian = GuardianFactory()
    booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    guardian.user.is_active = False
    guardian.user.save(update_fields=["is_active"])

    with django_capture_on_commit_callbacks(execute=True):
        reminder_pass_run()

    assert set(Delivery.objects.values_list("status", "note")) == {("skipped", "账号已停用。")}
    assert mail.outbox == []


def test_an_sms_notice_in_quiet_hours_waits_until_they_end(sms_outbox):
    # given an SMS-only guardian promoted at 23:00 Beijing time for an event in three days
    guardian = GuardianFactory()
    NotificationPreference.objects.create(
        user=guardian.user, by_sms=True, by_email=False, in_site=False
    )
    night = (timezone.now() + datetime.timedelta(days=1)).astimezone(SHANGHAI)
    night = night.replace(hour=23, minute=0, second=0, microsecond=0)
    event = make_event(starts_at=night + datetime.timedelta(days=3))
    booking = Booking.objects.create(
        offering=event.offering,
        family=guardian.family,
        status=Booking.Status.CONFIRMED,
        party_size=1,
        confirmed_at=night,
        promoted_at=night,
    )

    # when the promotion notice is written at that moment
    reminders.booking_notices_create(
        offering=event.offering, bookings=[booking], purpose="promoted", now=night
    )

    # then the text is due at 07:00 the next morning, and the log says why
    row = Delivery.objects.get(booking=booking)
    local_due = row.due_at.astimezone(SHANGHAI)
    assert row.channel == "sms" and row.status == "pending"
    assert (local_due.date(), f"{local_due:%H:%M}") == (
        (night + datetime.timedelta(days=1)).date(),
        "07:00",
    )
    assert "免打扰" in row.note

    # and nothing is claimed at 06:59; at 07:00 a worker sends a short text with the time
    _token, early = reminders.deliveries_claim_batch(
        now=row.due_at - datetime.timedelta(minutes=1), limit=10
    )
    token, ids = reminders.deliveries_claim_batch(now=row.due_at, limit=10)
    assert (early, ids) == ([], [row.pk])
    with pytest.MonkeyPatch.context() as patch:
        # the send task checks quiet hours again against its clock: make it 07:00
        patch.setattr(reminders.timezone, "now", lambda: row.due_at)
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=str(token))
    assert outcome == {"sent": 1}
    [text] = sms_outbox
    starts = event.offering.starts_at.astimezone(SHANGHAI)
    assert event.title in text.text and f"{starts:%H:%M}" in text.text
    # (signed once, with the weekday label, the place and a link, in at most two parts)
    assert text.text.startswith("【协同育人门户】候补转正：") and sms_segments(text.text) <= 2
    assert when_label(event.offering.starts_at) in text.text and "/events/" in text.text


def test_a_rolled_back_booking_leaves_no_receipt(django_capture_on_commit_callbacks):
    session = make_session(CourseFactory())
    guardian = GuardianFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            booking_services.booking_create(
                offering_id=session.offering_id,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=[guardian.pk],
            )
            raise RuntimeError
    assert callbacks == []
    assert not Delivery.objects.exists() and mail.outbox == []


def test_writing_a_receipt_twice_makes_one_row_per_channel():
    session = make_session(CourseFactory())
    guardian = GuardianFactory()
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    reminders.booking_notices_create(
        offering=session.offering, bookings=[booking], purpose="confirmation"
    )
    assert _rows() == Counter(
        {
            (guardian.user_id, "confirmation", "email"): 1,
            (guardian.user_id, "confirmation", "inbox"): 1,
        }
    )


def test_the_admin_delivery_log_shows_rows_without_an_offering(client):
    # given an invitation row (no account, no offering) and a receipt
    mother = GuardianFactory()
    family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="father",
        phone="13600001111",
        base_url="http://testserver/",
    )
    make_session_booking = make_session(CourseFactory())
    booking_services.booking_create(
        offering_id=make_session_booking.offering_id,
        family=mother.family,
        booked_by=mother.user,
        guardian_ids=[mother.pk],
    )
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)

    # when the district's administrator opens the log and the invitation row
    changelist = client.get("/admin/events/delivery/")
    row = Delivery.objects.get(purpose="invitation")
    detail = client.get(f"/admin/events/delivery/{row.pk}/change/")

    # then both render, the new kinds are filterable, and the invitee's number is masked
    assert changelist.status_code == 200 and detail.status_code == 200
    text = changelist.content.decode()
    assert "共同监护人邀请" in text and "报名回执" in text
    assert "136****1111" in text
    assert client.get("/admin/events/delivery/?purpose=invitation").status_code == 200
