"""The outbox: reminders planned, claimed and sent."""

from __future__ import annotations

import datetime as dt
import time

from bench.harness import (
    fresh_offering,
    notes,
    record,
)

# --- 5. reminders claimed and sent per minute ------------------------------------------------


def bench_reminders() -> None:
    try:
        from events import reminders
        from events.models import Event
    except ImportError:
        notes.append("events.reminders is not present: reminders not measured.")
        return
    from unittest import mock

    from django.conf import settings
    from django.utils import timezone

    from bookings.models import Booking
    from members.models import Guardian

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # 100 events starting in 90 minutes, 30 registered families each.
    now = timezone.now()
    guardians = list(Guardian.objects.select_related("family").order_by("pk")[:3000])
    offerings = []
    for index in range(100):
        offering = fresh_offering(
            100, f"bench reminders {index}", starts_in=dt.timedelta(minutes=90)
        )
        Event.objects.create(
            title=offering.title,
            kind=Event.Kind.LECTURE,
            organiser_unit_id=offering.unit_id,
            audience=Event.Audience.PARENTS,
            venue="报告厅",
            offering=offering,
            status=Event.Status.PUBLISHED,
        )
        offerings.append(offering)
        Booking.objects.bulk_create(
            [
                Booking(
                    offering=offering,
                    family=g.family,
                    booked_by_id=g.user_id,
                    status="confirmed",
                    party_size=1,
                    confirmed_at=now - dt.timedelta(days=1),
                )
                for g in guardians[index * 30 : index * 30 + 30]
            ]
        )
    with mock.patch.object(reminders, "_dispatch", lambda ids, token: 0):
        started = time.perf_counter()
        planned = reminders.reminders_plan_due(now=now)
        plan_s = time.perf_counter() - started
        batches = []
        started = time.perf_counter()
        while True:
            token, ids = reminders.deliveries_claim_batch(
                now=now, limit=settings.REMINDER_BATCH_SIZE
            )
            if not ids:
                break
            batches.append((token, ids))
        claim_s = time.perf_counter() - started
    claimed = sum(len(ids) for _t, ids in batches)
    started = time.perf_counter()
    outcome: dict[str, int] = {}
    for token, ids in batches:
        for key, value in reminders.delivery_send_batch(
            delivery_ids=ids, claim_token=str(token)
        ).items():
            outcome[key] = outcome.get(key, 0) + value
    send_s = time.perf_counter() - started
    sent = outcome.get("sent", 0)
    record(
        "reminders",
        f"planned {planned:,} deliveries (100 test events × 30 families, plus the "
        "generated events that start within the next 24 h)",
        f"{plan_s:.2f} s",
        "events.reminders.reminders_plan_due (scripts/bench.py)",
    )
    record(
        "reminders",
        "claimed per minute (SELECT … FOR UPDATE SKIP LOCKED batches)",
        f"{claimed / claim_s * 60:,.0f} ({claimed:,} in {claim_s:.2f} s)",
        "events.reminders.deliveries_claim_batch in a loop",
    )
    record(
        "reminders",
        f"sent per minute in one worker process (outcomes {outcome})",
        f"{sent / send_s * 60:,.0f} ({sent:,} in {send_s:.2f} s)",
        "events.reminders.delivery_send_batch, locmem email backend",
    )
