"""Reminder rules, one row per delivery, and the send state machine (PostgreSQL, locmem mail)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from events.models import Delivery, ReminderPlan, ReminderRule
from events.reminders import (
    deliveries_claim_batch,
    delivery_send_batch,
    reminder_pass_run,
    reminders_plan_due,
)
from events.services import event_cancel, event_register, event_update
from events.tests.factories import make_event, receipts_sent_earlier
from members.sms import LocmemSMSBackend
from members.tests.factories import GuardianFactory
from notifications.models import NotificationPreference

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _register(event, guardian=None, *, confirmed_days_ago=None):
    guardian = guardian or GuardianFactory()
    booking = booking_create(
        offering_id=event.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    if confirmed_days_ago is not None:
        then = timezone.now() - datetime.timedelta(days=confirmed_days_ago)
        Booking.objects.filter(pk=booking.pk).update(confirmed_at=then)
        receipts_sent_earlier([booking], when=then)
    return guardian, booking


def _run(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return reminder_pass_run(**kwargs)


def test_a_reminder_row_is_made_once_per_guardian_and_channel(django_capture_on_commit_callbacks):
    # given an event whose 24-hour moment has come, and a family registered earlier
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=23, minutes=59))
    guardian, _booking = _register(event, confirmed_days_ago=2)

    # when two passes run
    first = _run(django_capture_on_commit_callbacks)
    second = _run(django_capture_on_commit_callbacks)

    # then one email and one in-site notice, sent once
    assert (first.planned, first.claimed, second.planned, second.claimed) == (2, 2, 0, 0)
    rows = Delivery.objects.filter(user=guardian.user, purpose="reminder")
    assert set(rows.values_list("channel", "status", "offset_minutes")) == {
        ("email", "sent", 1440),
        ("inbox", "sent", 1440),
    }
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][0] == "event.ics"
    assert guardian.user.notifications.count() == 1


def test_a_family_that_registers_after_the_reminder_moment_does_not_get_it(
    django_capture_on_commit_callbacks,
):
    # given an event 20 hours away (its 24-hour moment has passed)
    start = timezone.now() + datetime.timedelta(hours=20)
    event = make_event(starts_at=start)

    # when a family registers now and the passes run at the 24h and the 2h moment
    guardian, _booking = _register(event)
    at_24 = _run(django_capture_on_commit_callbacks)
    at_2 = _run(
        django_capture_on_commit_callbacks,
        now=start - datetime.timedelta(hours=2) + datetime.timedelta(minutes=1),
    )

    # then only the 2-hour reminder is made for it
    assert at_24.planned == 0
    assert at_2.planned == 2
    assert set(
        Delivery.objects.filter(user=guardian.user, purpose="reminder").values_list(
            "offset_minutes", flat=True
        )
    ) == {120}


def test_a_family_promoted_an_hour_before_gets_the_2_hour_reminder_at_once_marked_late(
    django_capture_on_commit_callbacks,
):
    # given an event in one hour, full, with a waiting family
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1), capacity=1)
    first, booking = _register(event, confirmed_days_ago=3)
    waiting, waiting_booking = _register(event)
    assert waiting_booking.status == Booking.Status.WAITING

    # when the confirmed family cancels (the coordinator forces it past the deadline)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking_id=booking.pk, family=None, cancelled_by=None, force=True)

    # then the promoted family's 2-hour reminder went out at once, marked late
    rows = Delivery.objects.filter(user=waiting.user, purpose="reminder")
    assert set(rows.values_list("offset_minutes", "is_late", "status")) == {
        (120, True, "sent"),
    }
    assert any("迟发" in m.subject for m in mail.outbox if m.to == [waiting.user.email])


def test_sms_in_quiet_hours_lasting_past_the_start_is_skipped(
    django_capture_on_commit_callbacks, settings
):
    # given a guardian who wants SMS only, and "now" at 23:00 in Shanghai
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    guardian = GuardianFactory()
    NotificationPreference.objects.create(
        user=guardian.user, by_sms=True, by_email=False, in_site=False
    )
    today = timezone.now().astimezone(SHANGHAI) + datetime.timedelta(days=2)
    night = today.replace(hour=23, minute=0, second=0, microsecond=0)
    # an event at 10:00 next morning (2-hour moment 08:00, 24-hour moment 10:00 today)
    morning = (night + datetime.timedelta(hours=11)).astimezone(datetime.UTC)
    late_event = make_event(starts_at=morning)
    # and an event at 01:00 (its 2-hour moment 23:00 falls in quiet hours lasting past the start)
    small_hours = (night + datetime.timedelta(hours=2)).astimezone(datetime.UTC)
    early_event = make_event(starts_at=small_hours, title="夜间观星亲子活动")
    _register(late_event, guardian, confirmed_days_ago=5)
    _register(early_event, guardian, confirmed_days_ago=5)
    LocmemSMSBackend.outbox = []

    # when the pass runs at 23:00 (the 2-hour moment of the early event)
    _run(django_capture_on_commit_callbacks, now=night.astimezone(datetime.UTC))

    # then the early event's SMS is skipped: quiet hours last past its start
    early = Delivery.objects.get(
        offering_id=early_event.offering_id, channel="sms", purpose="reminder"
    )
    assert early.status == "skipped" and "免打扰" in early.note
    # and the other event's (late) 24-hour reminder waits for 07:00
    late = Delivery.objects.get(
        offering_id=late_event.offering_id, channel="sms", purpose="reminder"
    )
    assert late.status == "pending"
    assert late.due_at.astimezone(SHANGHAI).strftime("%H:%M") == "07:00"
    assert LocmemSMSBackend.outbox == []


def test_quiet_hours_defer_an_sms_to_0700(django_capture_on_commit_callbacks, settings):
    # given an SMS-only guardian and an event at 09:00; its 2-hour moment 07:00 is fine,
    # but its 24-hour reminder, planned late at 23:30, falls in quiet hours
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    guardian = GuardianFactory()
    NotificationPreference.objects.create(
        user=guardian.user, by_sms=True, by_email=False, in_site=False
    )
    base = (timezone.now().astimezone(SHANGHAI) + datetime.timedelta(days=3)).replace(
        hour=23, minute=30, second=0, microsecond=0
    )
    start = (base + datetime.timedelta(hours=9, minutes=30)).astimezone(datetime.UTC)
    ReminderRule.objects.create(scope="lecture", offset_minutes=10 * 60)
    event = make_event(starts_at=start)
    _register(event, guardian, confirmed_days_ago=5)

    # when the pass runs at 23:30, the 10-hour moment
    _run(django_capture_on_commit_callbacks, now=base.astimezone(datetime.UTC))

    # then the SMS is due at 07:00 Shanghai time, not now
    row = Delivery.objects.get(offering_id=event.offering_id, channel="sms", purpose="reminder")
    assert row.status == "pending"
    assert row.due_at.astimezone(SHANGHAI).strftime("%H:%M") == "07:00"
    assert row.due_at < start


def test_per_event_rules_replace_the_kind_defaults(django_capture_on_commit_callbacks):
    # given an event with its own single rule: 3 hours
    start = timezone.now() + datetime.timedelta(hours=2, minutes=59)
    event = make_event(starts_at=start, reminder_hours=[3])
    guardian, _ = _register(event, confirmed_days_ago=1)

    # when the pass runs
    result = _run(django_capture_on_commit_callbacks)

    # then the 3-hour reminder is sent; the default 24h is not used at all
    assert result.planned == 2
    assert set(
        Delivery.objects.filter(purpose="reminder").values_list("offset_minutes", flat=True)
    ) == {180}
    assert not ReminderPlan.objects.filter(offset_minutes=1440).exists()


def test_claimed_reminders_of_a_cancelled_event_are_skipped_not_sent(
    django_capture_on_commit_callbacks,
):
    # given reminders claimed by a pass but not yet sent by a worker
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=23))
    _register(event, confirmed_days_ago=2)
    _run_plan_only = reminder_pass_run  # plan + claim, callbacks (dispatch) not run
    result = _run_plan_only()
    token = Delivery.objects.filter(status="claimed").values_list("claim_token", flat=True)[0]

    # when the event is cancelled, then the worker gets the old task
    event_cancel(event_id=event.pk, cancelled_by=None)
    outcome = delivery_send_batch(delivery_ids=result.claimed_ids, claim_token=str(token))

    # then nothing of the old reminder goes out
    assert outcome == {"skipped": 2}
    assert mail.outbox == []


def test_a_moved_event_skips_in_flight_reminders_of_the_old_time():
    # given claimed 24-hour reminders
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=23, minutes=30))
    _register(event, confirmed_days_ago=2)
    result = reminder_pass_run()
    token = str(Delivery.objects.filter(status="claimed").first().claim_token)

    # when the event moves a week later before the worker runs
    start = event.offering.starts_at + datetime.timedelta(days=7)
    event_update(
        event_id=event.pk,
        updated_by=None,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=2),
    )
    outcome = delivery_send_batch(delivery_ids=result.claimed_ids, claim_token=str(token))

    # then the old-time reminders are skipped, and a time-changed notice is pending
    assert outcome == {"skipped": 2}
    assert Delivery.objects.filter(purpose="time_changed", status="pending").count() == 2


def test_the_same_task_twice_sends_once_and_a_stale_token_sends_nothing():
    # given claimed rows
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=23, minutes=30))
    _register(event, confirmed_days_ago=2)
    reminders_plan_due(now=timezone.now())
    token, ids = deliveries_claim_batch(now=timezone.now(), limit=100)

    # when the send task runs twice (redelivery) and once with an old token
    first = delivery_send_batch(delivery_ids=ids, claim_token=str(token))
    again = delivery_send_batch(delivery_ids=ids, claim_token=str(token))
    stale = delivery_send_batch(
        delivery_ids=ids, claim_token="00000000-0000-0000-0000-000000000000"
    )

    # then it was sent exactly once
    assert first == {"sent": 2}
    assert again == {"not-ours": 2} and stale == {"not-ours": 2}
    assert len(mail.outbox) == 1


def test_an_expired_claim_is_claimed_again(settings):
    # given rows claimed by a worker that died (lease over)
    settings.REMINDER_CLAIM_LEASE_SECONDS = 60
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=23, minutes=30))
    _register(event, confirmed_days_ago=2)
    reminders_plan_due(now=timezone.now())
    old_token, ids = deliveries_claim_batch(now=timezone.now(), limit=100)
    Delivery.objects.update(claimed_at=timezone.now() - datetime.timedelta(minutes=5))

    # when a later pass claims
    new_token, again = deliveries_claim_batch(now=timezone.now(), limit=100)

    # then the same rows are claimed with a new token; the old task can no longer send them
    assert sorted(again) == sorted(ids) and new_token != old_token
    assert delivery_send_batch(delivery_ids=ids, claim_token=str(old_token)) == {"not-ours": 2}
    assert delivery_send_batch(delivery_ids=ids, claim_token=str(new_token)) == {"sent": 2}


def test_a_failing_email_backs_off_then_is_marked_failed(settings):
    # given an email backend that always fails
    settings.EMAIL_BACKEND = "events.tests.failing_backend.FailingBackend"
    settings.REMINDER_MAX_ATTEMPTS = 2
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=23, minutes=30))
    guardian, _ = _register(event, confirmed_days_ago=2)
    NotificationPreference.objects.create(user=guardian.user, in_site=False)

    # when it is tried twice
    reminders_plan_due(now=timezone.now())
    token, ids = deliveries_claim_batch(now=timezone.now(), limit=10)
    assert delivery_send_batch(delivery_ids=ids, claim_token=str(token)) == {"failed": 1}
    row = Delivery.objects.get(purpose="reminder")
    assert row.status == "pending" and row.due_at > timezone.now()  # backoff
    token, ids = deliveries_claim_batch(now=row.due_at, limit=10)
    delivery_send_batch(delivery_ids=ids, claim_token=str(token))

    # then it is marked failed, with the error, for the coordinator's log
    row.refresh_from_db()
    assert row.status == "failed" and row.attempts == 2 and "SMTP" in row.note


def test_registration_writes_a_receipt_and_the_command_sends_it(django_capture_on_commit_callbacks):
    # given a published event and a family
    event = make_event()
    guardian = GuardianFactory()

    # when the family registers (the kick after commit runs the pass eagerly here)
    with django_capture_on_commit_callbacks(execute=True):
        event_register(
            event_id=event.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
    call_command("send_due_reminders")

    # then one receipt by email and one in the inbox
    assert [m.subject for m in mail.outbox] == [f"报名成功：{event.title}"]
    assert guardian.user.notifications.filter(kind="events.confirmation").count() == 1


def test_course_sessions_are_reminded_the_same_way(django_capture_on_commit_callbacks):
    from courses.tests.factories import CourseFactory, make_session

    # given a course session starting in just under 24 hours, with a family booked earlier
    course = CourseFactory(title="家长课堂：科学与AI")
    session = make_session(course, starts_in=datetime.timedelta(hours=23, minutes=59))
    guardian = GuardianFactory()
    booking = booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    Booking.objects.update(confirmed_at=timezone.now() - datetime.timedelta(days=1))
    receipts_sent_earlier([booking])

    # when the pass runs
    _run(django_capture_on_commit_callbacks)

    # then the family is reminded of the session, with a link to the course
    [message] = mail.outbox
    assert "家长课堂：科学与AI" in message.subject
    assert f"/courses/{course.pk}/" in message.body


def test_the_pass_marks_past_events_finished():
    event = make_event(starts_at=timezone.now() + datetime.timedelta(hours=1))
    from bookings.models import Offering

    Offering.objects.filter(pk=event.offering_id).update(
        starts_at=timezone.now() - datetime.timedelta(hours=3),
        ends_at=timezone.now() - datetime.timedelta(hours=1),
    )
    reminder_pass_run()
    event.refresh_from_db()
    assert event.status == "finished"
