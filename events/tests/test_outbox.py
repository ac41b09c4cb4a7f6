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
from events.tests.worker_fixtures import decoded
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


# --- batches: bulk in-site notices, one SMTP connection, one pooled HTTP connection -----


def _claimed_batch(offering, count, *, channel, prefix, **user_fields):
    """``count`` one-guardian families booked on ``offering`` with a due reminder
    on ``channel`` each, claimed as one batch: (token, ids, guardians)."""
    from events.tests.factories import bulk_registered_families

    guardians = bulk_registered_families(
        offering, count, confirmed_at=timezone.now() - datetime.timedelta(days=2), prefix=prefix
    )
    if user_fields:
        from members.models import User

        for guardian in guardians:
            User.objects.filter(pk=guardian.user_id).update(
                **{k: v.format(i=guardian.pk) for k, v in user_fields.items()}
            )
    bookings = dict(Booking.objects.filter(offering=offering).values_list("family_id", "pk"))
    starts = offering.starts_at
    Delivery.objects.bulk_create(
        [
            Delivery(
                user_id=g.user_id,
                offering=offering,
                booking_id=bookings[g.family_id],
                purpose="reminder",
                offset_minutes=120,
                channel=channel,
                scheduled_for=starts - datetime.timedelta(minutes=120),
                due_at=timezone.now(),
            )
            for g in guardians
        ]
    )
    token, ids = reminders.deliveries_claim_batch(now=timezone.now(), limit=10_000)
    return str(token), ids, guardians


def test_a_batch_of_in_site_notices_is_written_in_bulk(django_assert_max_num_queries):
    # given 200 claimed in-site reminders of one event
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=500)
    token, ids, guardians = _claimed_batch(event.offering, 200, channel="inbox", prefix="bulk")

    # when one send task takes them: a handful of queries, not a few per row
    with django_assert_max_num_queries(14):
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then each guardian has the one notice, and each row is sent
    assert outcome == {"sent": 200}
    notices = Notification.objects.filter(kind="events.reminder")
    assert sorted(notices.values_list("user_id", flat=True)) == sorted(g.user_id for g in guardians)
    assert {n.url for n in notices} == {reverse("events:detail", args=[event.pk])}
    assert all(event.title in n.title for n in notices)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    # and the same task again sends nothing
    assert reminders.delivery_send_batch(delivery_ids=ids, claim_token=token) == {"not-ours": 200}
    assert notices.count() == 200


def test_one_bad_row_does_not_fail_an_in_site_batch():
    # given 20 claimed in-site reminders, one of them a row whose notice cannot
    # be written
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    token, ids, guardians = _claimed_batch(event.offering, 20, channel="inbox", prefix="bad")
    bad = Delivery.objects.get(pk=ids[7])

    def failing_bulk(*, notices):
        raise RuntimeError("bulk insert refused")

    real_one = reminders.notification_create

    def one(*, user, **fields):
        if user.pk == bad.user_id:
            raise ValueError("这一行写不进去")
        return real_one(user=user, **fields)

    # when the bulk insert fails and the row-by-row path meets the bad row
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reminders, "notifications_create_many", failing_bulk)
        patch.setattr(reminders, "notification_create", one)
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then the 19 others are sent once, and the bad one waits for a retry
    assert outcome == {"sent": 19, "failed": 1}
    bad.refresh_from_db()
    assert bad.status == "pending" and bad.attempts == 1 and bad.due_at > timezone.now()
    assert "这一行写不进去" in bad.note
    assert Notification.objects.count() == 19


@pytest.fixture
def smtp_to(settings):
    """Point this process's email at an aiosmtpd server (tests.fakes)."""

    def point(controller):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = controller.port
        return controller

    return point


def test_a_batch_of_emails_goes_over_one_smtp_connection(smtp_to):
    from tests.fakes import smtp_server

    # given 30 claimed email reminders
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    token, ids, guardians = _claimed_batch(event.offering, 30, channel="email", prefix="mail")
    with smtp_server() as server:
        smtp_to(server)

        # when one send task takes them
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then 30 messages arrived over one connection, one per guardian, each with
    # its own greeting (the body is rendered once for the batch)
    assert outcome == {"sent": 30}
    assert len({m["X-Peer"] for m in server.messages}) == 1
    assert sorted(str(m["To"]) for m in server.messages) == sorted(g.user.email for g in guardians)
    for message in server.messages:
        guardian = next(g for g in guardians if g.user.email == str(message["To"]))
        subject, text = decoded(message)
        assert event.title in subject and f"{guardian.user.display_name}，您好" in text
        assert message.get_content_type() == "multipart/mixed"  # the calendar file
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_an_smtp_connection_lost_mid_batch_leaves_the_rest_for_later_never_twice(smtp_to):
    import asyncio

    from tests.fakes import smtp_server

    class DropsAtTheEighth:
        """Takes seven messages; at the eighth's final "." it hangs up without an answer."""

        def __init__(self):
            self.handler = self
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if len(self.messages) == 7:
                server.transport.close()
                await asyncio.sleep(0.05)
                return "421 gone"
            self.messages.append(envelope.rcpt_tos[0])
            return "250 OK"

    # given 20 claimed email reminders and a server that goes away at the eighth
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    token, ids, guardians = _claimed_batch(event.offering, 20, channel="email", prefix="drop")
    dropping = DropsAtTheEighth()
    with smtp_server(dropping) as server:
        smtp_to(server)
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then seven arrived; the eighth is left as sent (its outcome is unknown: at
    # most once), and the twelve never tried are pending again, with no attempt counted
    assert outcome == {"sent": 8, "released": 12}
    assert len(dropping.messages) == 7
    rows = Delivery.objects.order_by("pk")
    assert [r.status for r in rows] == ["sent"] * 8 + ["pending"] * 12
    assert all(r.attempts == 0 and r.claim_token is None for r in rows[8:])

    # when the server is back and the rows fall due again
    later = timezone.now() + datetime.timedelta(minutes=2)
    token, again = reminders.deliveries_claim_batch(now=later, limit=100)
    assert again == ids[8:]
    with smtp_server() as server:
        smtp_to(server)
        assert reminders.delivery_send_batch(delivery_ids=again, claim_token=str(token)) == {
            "sent": 12
        }
    # then each of them arrived once in all
    arrived = Counter(dropping.messages + [str(m["To"]) for m in server.messages])
    assert len(arrived) == 19 and max(arrived.values()) == 1
    assert not Delivery.objects.exclude(status="sent").exists()


def test_a_refused_address_fails_alone_and_the_batch_goes_on(smtp_to):
    from tests.fakes import smtp_server

    # given 10 claimed email reminders, one to an address the server refuses
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    token, ids, guardians = _claimed_batch(event.offering, 10, channel="email", prefix="rcpt")
    bad = guardians[3].user
    bad.email = "refused@example.cn"
    bad.save(update_fields=["email"])

    class RefusesOne:
        def __init__(self):
            self.handler = self
            self.messages = []

        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            if address == "refused@example.cn":
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.extend(envelope.rcpt_tos)
            return "250 OK"

    keeper = RefusesOne()
    with smtp_server(keeper) as server:
        smtp_to(server)
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then nine arrived, and the refused one waits for a retry with the reason
    assert outcome == {"sent": 9, "failed": 1}
    assert sorted(keeper.messages) == sorted(g.user.email for g in guardians if g.user != bad)
    row = Delivery.objects.get(user=bad)
    assert row.status == "pending" and row.attempts == 1 and "550" in row.note


def test_a_batch_of_texts_goes_over_one_kept_alive_connection(settings):
    from tests.fakes import SmsGateway

    # given 25 claimed SMS reminders to phone-only guardians (no quiet hours)
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    token, ids, guardians = _claimed_batch(
        event.offering,
        25,
        channel="sms",
        prefix="text",
        email="",
        phone="139{i:08d}",
    )
    from members.models import User

    User.objects.filter(pk__in=[g.user_id for g in guardians]).update(phone_verified=True)
    NotificationPreference.objects.bulk_create(
        [
            NotificationPreference(
                user_id=g.user_id,
                by_sms=True,
                quiet_start=datetime.time(0, 0),
                quiet_end=datetime.time(0, 0),
            )
            for g in guardians
        ]
    )
    phones = sorted(
        User.objects.filter(pk__in=[g.user_id for g in guardians]).values_list("phone", flat=True)
    )
    with SmsGateway() as gateway:
        settings.SMS_BACKEND = "members.sms.HttpApiSMSBackend"
        settings.SMS_OPTIONS = {"url": gateway.url, "api_key": "k"}
        # and a gateway that refuses one number
        gateway.refuse.add(phones[5])

        # when one send task takes them
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then 24 texts went over one connection, signed, once each; the refused one waits
    assert outcome == {"sent": 24, "failed": 1}
    assert len(gateway.connections) == 1
    assert sorted(m["phone"] for m in gateway.received) == phones[:5] + phones[6:]
    assert all(m["text"].startswith("【协同育人门户】提醒：") for m in gateway.received)
    refused = Delivery.objects.get(user__phone=phones[5])
    assert refused.status == "pending" and refused.attempts == 1 and "500" in refused.note


def test_a_batch_gateway_takes_the_texts_in_one_request_with_a_status_each(settings):
    from members.models import User
    from tests.fakes import SmsGateway

    # given 30 claimed SMS reminders to phone-only guardians (no quiet hours)
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    token, ids, guardians = _claimed_batch(
        event.offering, 30, channel="sms", prefix="many", email="", phone="137{i:08d}"
    )
    users = User.objects.filter(pk__in=[g.user_id for g in guardians])
    users.update(phone_verified=True)
    NotificationPreference.objects.bulk_create(
        [
            NotificationPreference(
                user_id=g.user_id,
                by_sms=True,
                quiet_start=datetime.time(0, 0),
                quiet_end=datetime.time(0, 0),
            )
            for g in guardians
        ]
    )
    phones = sorted(users.values_list("phone", flat=True))
    with SmsGateway() as gateway:
        settings.SMS_BACKEND = "members.sms.HttpApiSMSBackend"
        settings.SMS_OPTIONS = {"url": gateway.url, "batch_url": gateway.batch_url}
        # and a gateway that refuses two of the numbers
        gateway.refuse.update(phones[2:4])

        # when one send task takes them
        outcome = reminders.delivery_send_batch(delivery_ids=ids, claim_token=token)

    # then one request carried them, and each row has its own outcome: 28 sent,
    # the two refused ones wait for a retry with the gateway's reason
    assert outcome == {"sent": 28, "failed": 2}
    assert gateway.batches == 1
    assert sorted(m["phone"] for m in gateway.received) == phones[:2] + phones[4:]
    assert all(m["text"].startswith("【协同育人门户】提醒：") for m in gateway.received)
    refused = Delivery.objects.filter(user__phone__in=phones[2:4])
    assert {(r.status, r.attempts) for r in refused} == {("pending", 1)}
    assert all("号码无效" in r.note for r in refused)
    assert Delivery.objects.filter(status="sent").count() == 28


def test_a_backlog_larger_than_a_pass_keeps_draining_without_waiting_for_the_beat(
    settings, django_capture_on_commit_callbacks
):
    # given passes of at most 2 claims of 5 rows, and 30 due in-site reminders
    settings.REMINDER_BATCH_SIZE = 5
    settings.REMINDER_MAX_BATCHES_PER_PASS = 2
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=50)
    _token, _ids, guardians = _claimed_batch(event.offering, 30, channel="inbox", prefix="lot")
    Delivery.objects.update(status="pending", claim_token=None, claims=0)

    # when one pass runs (its callbacks run as after a commit; tasks run eagerly here)
    with django_capture_on_commit_callbacks(execute=True):
        result = reminders.deliveries_dispatch_due()

    # then it claimed its bound and asked for a follow-up, which drained the rest
    assert (result.claimed, result.more) == (10, True)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert Notification.objects.count() == 30
    assert max(Delivery.objects.values_list("claims", flat=True)) == 1
