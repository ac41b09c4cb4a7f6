"""The outbox: in-site notices, email and SMS sent per minute per worker, and a
city evening (100,000 reminders due at once) through two real workers.

Everything goes through the real parts: `celery -A alliance worker` processes on
Redis with the bench's environment, a real SMTP server (aiosmtpd) and a local
HTTP SMS gateway (tests/fakes.py, the same fakes the tests use), both served
from this process. A "worker" is one worker process (``--concurrency=1``).

The generated guardians have a verified phone and no e-mail address. The bench
gives its own guardians (families with nothing booked in the next two days)
addresses ``bench-<id>@example.cn`` for the e-mail half, and the SMS half a saved
preference without quiet hours (marked 00:00:01–00:00:01), so that texts go out
at any hour; both are undone afterwards, with every row the step wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections import Counter

from bench.harness import ENV, CeleryWorkers, fresh_offering, goal, notes, record

GOAL_INBOX = "In-site notices ≥ 100,000 per minute per worker"
GOAL_EMAIL = "Email ≥ 6,000 per minute per worker (aiosmtpd)"
GOAL_SMS = "SMS ≥ 6,000 per minute per worker (local fake gateway)"
GOAL_WINDOW = (
    "100,000 reminders due in one window out within 5 minutes with two workers, none twice"
)
GOALS = [GOAL_INBOX, GOAL_EMAIL, GOAL_SMS, GOAL_WINDOW]

INBOX_ROWS = int(os.environ.get("BENCH_OUTBOX_INBOX", "30000"))
EMAIL_ROWS = int(os.environ.get("BENCH_OUTBOX_EMAIL", "4000"))
SMS_ROWS = int(os.environ.get("BENCH_OUTBOX_SMS", "4000"))
WINDOW_GUARDIANS = int(os.environ.get("BENCH_OUTBOX_WINDOW_GUARDIANS", "50000"))
WINDOW_OFFERINGS = 100
WINDOW_SECONDS = 300
BEAT_SECONDS = 60
# The SMS half's saved preference: no quiet hours (start == end), and a marker.
NO_QUIET = dt.time(0, 0, 1)
BENCH_EMAIL = re.compile(r"^bench-\d+@example\.cn$")
MESSAGE_ID = re.compile(rb"delivery-(\d+)@alliance-portal")


def _families(count: int) -> list[tuple[int, int, int]]:
    """(family, guardian, user) of ``count`` one-guardian families with an active
    account and nothing booked in the next two days (so the data set's own
    reminders never reach the bench's recipients): the highest ids, fixed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT g.family_id, g.id, g.user_id
            FROM members_guardian g JOIN members_user u ON u.id = g.user_id
            WHERE u.is_active AND u.phone_verified AND u.phone <> ''
              AND (SELECT count(*) FROM members_guardian o WHERE o.family_id = g.family_id) = 1
              AND NOT EXISTS (
                SELECT 1 FROM bookings_booking b JOIN bookings_offering f ON f.id = b.offering_id
                WHERE b.family_id = g.family_id AND f.starts_at < now() + interval '2 days'
                  AND f.starts_at > now() - interval '1 day')
            ORDER BY g.family_id DESC
            LIMIT %s
            """,
            [count],
        )
        return cursor.fetchall()


def _undo(marks: dict | None) -> None:
    """Undo what the step wrote: addresses, preferences, notices, and (rows newer
    than ``marks``) the data set's reminder plans and deliveries the passes made."""
    from bookings.models import Offering
    from events.models import Delivery, Event, ReminderPlan
    from members.models import User
    from notifications.models import Notification, NotificationPreference

    Event.objects.filter(offering__title__startswith="bench outbox").delete()
    Offering.objects.filter(title__startswith="bench outbox").delete()
    Notification.objects.filter(title__contains="bench outbox").delete()
    NotificationPreference.objects.filter(quiet_start=NO_QUIET, quiet_end=NO_QUIET).delete()
    User.objects.filter(email__regex=BENCH_EMAIL.pattern).update(email="")
    if marks:
        Delivery.objects.filter(pk__gt=marks["delivery"]).delete()
        ReminderPlan.objects.filter(pk__gt=marks["plan"]).delete()
        Notification.objects.filter(pk__gt=marks["notification"]).delete()


def _marks() -> dict:
    from django.db.models import Max

    from events.models import Delivery, ReminderPlan
    from notifications.models import Notification

    return {
        "delivery": Delivery.objects.aggregate(m=Max("pk"))["m"] or 0,
        "plan": ReminderPlan.objects.aggregate(m=Max("pk"))["m"] or 0,
        "notification": Notification.objects.aggregate(m=Max("pk"))["m"] or 0,
    }


def _offering(title: str, starts_in: dt.timedelta, families: list[int]):
    """An event offering (through the services) booked by ``families``, confirmed a day ago."""
    from django.utils import timezone

    from bookings.models import Booking
    from events.models import Event

    offering = fresh_offering(len(families) + 10, title, starts_in=starts_in)
    Event.objects.create(
        title=title,
        kind=Event.Kind.LECTURE,
        organiser_unit_id=offering.unit_id,
        audience=Event.Audience.PARENTS,
        venue="报告厅",
        offering=offering,
        status=Event.Status.PUBLISHED,
    )
    confirmed = timezone.now() - dt.timedelta(days=1)
    Booking.objects.bulk_create(
        [
            Booking(
                offering=offering,
                family_id=family,
                status=Booking.Status.CONFIRMED,
                party_size=1,
                confirmed_at=confirmed,
            )
            for family in families
        ],
        batch_size=2000,
    )
    return offering


def _due_offset(offering) -> int:
    from events.selectors import reminder_offsets_for_offerings

    return min(reminder_offsets_for_offerings([offering])[offering.pk])


def _rows_for(offering, channel: str, users: list[int]) -> int:
    """One due reminder row per user on ``channel`` (what planning writes for a
    guardian who chose only that channel)."""
    from django.utils import timezone

    from bookings.models import Booking
    from events import reminders
    from events.models import Delivery

    offset = _due_offset(offering)
    bookings = dict(
        Booking.objects.filter(offering=offering).values_list("family__guardians__user_id", "pk")
    )
    now = timezone.now()
    rows = [
        Delivery(
            user_id=user,
            offering=offering,
            booking_id=bookings[user],
            purpose=Delivery.Purpose.REMINDER,
            offset_minutes=offset,
            channel=channel,
            scheduled_for=offering.starts_at - dt.timedelta(minutes=offset),
            due_at=now,
        )
        for user in users
    ]
    made = len(Delivery.objects.bulk_create(rows, batch_size=2000))
    if made >= reminders.ANALYZE_AFTER_ROWS:
        reminders._analyze_deliveries()  # as a pass that plans this many rows does
    return made


def _wait_sent(
    offerings: list[int], total: int, *, timeout: float, beat=None, timeline=None
) -> tuple[float, dict]:
    """Seconds until no row of ``offerings`` is pending or claimed (or timeout);
    ``timeline`` gets (seconds, rows made, rows sent) every 30 s."""
    from events.models import Delivery

    started = time.perf_counter()
    next_beat = started
    next_mark = started + 30
    rows = Delivery.objects.filter(offering_id__in=offerings)
    while True:
        now = time.perf_counter()
        if beat is not None and now >= next_beat:
            beat()
            next_beat += BEAT_SECONDS
        if timeline is not None and now >= next_mark:
            timeline.append(
                (round(now - started), rows.count(), rows.filter(status="sent").count())
            )
            next_mark += 30
        if rows.count() >= total and not rows.filter(status__in=["pending", "claimed"]).exists():
            break
        if now - started > timeout:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    return elapsed, Counter(rows.values_list("status", flat=True))


def _per_minute(count: int, seconds: float) -> float:
    return count / seconds * 60 if seconds else 0.0


def _per_channel(channel: str, count: int, users: list[int], by_user: dict, fakes) -> None:
    """One worker sends ``count`` due rows of one channel; the rate is rows over
    the time from the claim until the last row is sent."""
    from events import reminders
    from events.models import Delivery, Event
    from notifications.models import Notification

    counter, gateway = fakes
    users = users[:count]
    title = f"bench outbox {channel}"
    offering = _offering(title, dt.timedelta(hours=20), [by_user[u] for u in users])
    made = _rows_for(offering, channel, users)
    counter.recipients.clear()
    with gateway.lock:
        gateway.received.clear()
    started = time.perf_counter()
    reminders.deliveries_dispatch_due()
    elapsed, states = _wait_sent([offering.pk], made, timeout=600)
    elapsed = max(elapsed, time.perf_counter() - started)
    sent = states.get(Delivery.Status.SENT, 0)
    if channel == Delivery.Channel.INBOX:
        arrived = Notification.objects.filter(title__contains=title).count()
    elif channel == Delivery.Channel.EMAIL:
        arrived = sum(counter.recipients.values())
    else:
        arrived = len(gateway.texts())
    rate = _per_minute(sent, elapsed)
    label, floor, where = {
        Delivery.Channel.INBOX: (GOAL_INBOX, 100_000, "notices in the inbox table"),
        Delivery.Channel.EMAIL: (GOAL_EMAIL, 6_000, "messages at the SMTP server"),
        Delivery.Channel.SMS: (GOAL_SMS, 6_000, "texts at the gateway"),
    }[channel]
    record(
        "reminders",
        f"{channel}: sent per minute by one worker ({made:,} due rows; {arrived:,} {where}; "
        f"states {dict(states)})",
        f"{rate:,.0f} ({sent:,} in {elapsed:.1f} s)",
        "bench/reminders.py: one `celery worker --concurrency=1`, claim → all sent",
    )
    # (Gone before the window: its later rules must not reach the same families.)
    Event.objects.filter(offering=offering).delete()
    offering.delete()
    goal(
        label,
        sent == made == arrived and rate >= floor,
        f"{rate:,.0f}/min = {rate / floor:.2f}× the goal; {sent:,} sent, {arrived:,} arrived",
    )


def _window(families: list[int], email_users: list[int], sms_users: list[int], fakes) -> None:
    """A city evening: 100,000 reminders (in-site for everyone, email or SMS for
    each guardian) due in one window, sent by two workers; the bench plays beat
    (the reminder pass every 60 s, as `celery beat` would queue it)."""
    from events import tasks
    from events.models import Delivery
    from notifications.models import Notification

    counter, gateway = fakes
    counter.recipients.clear()
    with gateway.lock:
        gateway.received.clear()
    # The 2-hour rule's moment is a minute ago: due now, not late.
    size = -(-len(families) // WINDOW_OFFERINGS)
    offerings = []
    for index in range(WINDOW_OFFERINGS):
        part = families[index * size : (index + 1) * size]
        if part:
            offerings.append(
                _offering(
                    f"bench outbox window {index}",
                    dt.timedelta(hours=2, minutes=-1),
                    part,
                )
            )
    offset = _due_offset(offerings[0])
    if offset != 120:
        notes.append(f"reminders: the window's latest due rule is {offset} min, not 120")
    expected = 2 * len(email_users) + 2 * len(sms_users)
    ids = [o.pk for o in offerings]
    timeline: list[tuple[int, int, int]] = []
    elapsed, states = _wait_sent(
        ids,
        expected,
        timeout=WINDOW_SECONDS * 3,
        beat=lambda: tasks.reminders_run_due.apply_async(retry=False),
        timeline=timeline,
    )
    notes.append(
        "reminders window, every 30 s (seconds: rows planned/sent): "
        + ", ".join(f"{t} s: {made:,}/{sent:,}" for t, made, sent in timeline)
    )
    rows = Delivery.objects.filter(offering_id__in=ids)
    by_channel = Counter(rows.filter(status="sent").values_list("channel", flat=True))
    sent = sum(by_channel.values())
    # None twice, counted where the messages arrived.
    notices = Counter(
        Notification.objects.filter(title__contains="bench outbox window").values_list(
            "user_id", flat=True
        )
    )
    emails = counter.recipients
    texts = Counter(
        m["phone"] for m in list(gateway.received) if "bench outbox window" in m["text"]
    )
    twice = sum(1 for c in (notices, emails, texts) for n in c.values() if n > 1)
    arrived = sum(notices.values()) + sum(emails.values()) + sum(texts.values())
    others = Delivery.objects.exclude(offering_id__in=ids).filter(status="sent").count()
    rate = _per_minute(sent, elapsed)
    record(
        "reminders",
        f"window: {expected:,} reminders due at once ({len(families):,} families in "
        f"{len(offerings)} events; sent by channel {dict(by_channel)}; {arrived:,} arrived "
        f"(inbox {sum(notices.values()):,}, SMTP {sum(emails.values()):,}, gateway "
        f"{sum(texts.values()):,}); {twice} twice; states {dict(states)}; plus {others:,} "
        "of the data set's own due reminders sent in the same passes)",
        f"{elapsed:.0f} s ({rate:,.0f}/min, two workers)",
        "bench/reminders.py: two `celery worker --concurrency=1`, reminders_run_due every 60 s",
    )
    goal(
        GOAL_WINDOW,
        sent == expected == arrived and twice == 0 and elapsed <= WINDOW_SECONDS,
        f"{expected:,} out in {elapsed:.0f} s = {elapsed / WINDOW_SECONDS:.2f}× the 300 s "
        f"limit; {arrived:,} arrived, {twice} twice",
    )


def bench_reminders() -> None:
    from django.core.cache import cache
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from alliance.celery import app
    from events import reminders
    from events.models import Delivery
    from members.models import User
    from notifications.models import NotificationPreference
    from tests.fakes import EnvelopeCounter, SmsGateway, smtp_server

    _undo(None)
    marks = _marks()
    need = max(WINDOW_GUARDIANS, INBOX_ROWS, EMAIL_ROWS * 2, SMS_ROWS * 2)
    chosen = _families(need)
    if len(chosen) < need:
        notes.append(f"reminders: only {len(chosen):,} one-guardian families free of bookings")
    families = [f for f, _g, _u in chosen][:WINDOW_GUARDIANS]
    users = [u for _f, _g, u in chosen]
    by_user = {u: f for f, _g, u in chosen}
    # Alternate families: even positions get an address (in-site + email by the
    # defaults), odd ones a saved choice of in-site + SMS without quiet hours.
    email_users = users[:WINDOW_GUARDIANS][0::2]
    sms_users = users[:WINDOW_GUARDIANS][1::2]
    User.objects.filter(pk__in=users[0::2]).update(
        email=Concat(Value("bench-"), Cast("pk", output_field=CharField()), Value("@example.cn"))
    )
    NotificationPreference.objects.bulk_create(
        [
            NotificationPreference(
                user_id=user,
                in_site=True,
                by_email=False,
                by_sms=True,
                quiet_start=NO_QUIET,
                quiet_end=NO_QUIET,
            )
            for user in users[1::2]
        ],
        batch_size=2000,
    )
    workers = None
    counter = EnvelopeCounter()
    try:
        with smtp_server(counter) as smtp, SmsGateway() as gateway:
            fakes = (counter, gateway)
            env = {
                **ENV,
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp.port),
                "SMS_BACKEND": "members.sms.HttpApiSMSBackend",
                "SMS_OPTIONS": json.dumps(
                    {"url": gateway.url, "batch_url": gateway.batch_url, "api_key": "bench"}
                ),
                "PORTAL_BASE_URL": "https://portal.example.cn",
            }
            app.control.purge()
            cache.delete(reminders.CONTINUE_KEY)
            workers = CeleryWorkers(env)
            workers.start("bench1")
            _per_channel(Delivery.Channel.INBOX, INBOX_ROWS, users, by_user, fakes)
            _per_channel(Delivery.Channel.EMAIL, EMAIL_ROWS, users[0::2], by_user, fakes)
            _per_channel(Delivery.Channel.SMS, SMS_ROWS, users[1::2], by_user, fakes)
            workers.start("bench2")
            _window(families, email_users, sms_users, fakes)
    finally:
        if workers is not None:
            workers.stop()
        _undo(marks)
