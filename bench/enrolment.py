"""Booking latency and the race for the last seats."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.harness import (
    fresh_offering,
    record,
)

# --- 2. enrolment latency and the 30-seat race --------------------------------------------


def bench_enrolment() -> None:
    from django.db import connection

    from bookings.models import Booking
    from bookings.services import booking_create
    from members.models import Guardian

    guardians = list(Guardian.objects.select_related("family", "user").order_by("-pk")[:400])
    # p95: 200 bookings one after another (each its own transaction and lock).
    offering = fresh_offering(1000, "bench latency")
    latencies = []
    for guardian in guardians[:200]:
        started = time.perf_counter()
        booking_create(
            offering_id=offering.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    record(
        "enrolment",
        "booking_create latency p50 / p95 (200 sequential bookings)",
        f"{statistics.median(latencies):.1f} ms / {p95:.1f} ms",
        "bookings.services.booking_create, timed in scripts/bench.py",
    )

    # The race: 200 attempts at once on 30 seats, through 40 connections
    # (PostgreSQL allows 100 connections, shared with the rest of the machine).
    race = fresh_offering(30, "bench race")
    barrier = threading.Barrier(40)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(guardian, first: bool):

        try:
            if first:
                barrier.wait(timeout=30)
            booking = booking_create(
                offering_id=race.pk,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=[guardian.pk],
            )
            result = booking.status
        except Exception as error:  # busy, etc.
            result = type(error).__name__
        with lock:
            outcomes.append(result)
        return result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = [
            pool.submit(attempt, guardian, index < 40)
            for index, guardian in enumerate(guardians[200:400])
        ]
        for future in futures:
            future.result()
        # Close each worker thread's connection.
        pool.map(lambda _x: connection.close(), range(40))
    elapsed = time.perf_counter() - started
    race.refresh_from_db()
    confirmed = Booking.objects.filter(offering=race, status="confirmed").count()
    waiting = Booking.objects.filter(offering=race, status="waiting").count()
    others = len([o for o in outcomes if o not in ("confirmed", "waiting")])
    record(
        "enrolment",
        "200 concurrent attempts on 30 seats (40 threads): confirmed / waiting / errors",
        f"{confirmed} / {waiting} / {others} (places_taken {race.places_taken}, {elapsed:.1f} s)",
        "ThreadPoolExecutor(40) × bookings.services.booking_create (scripts/bench.py)",
    )
