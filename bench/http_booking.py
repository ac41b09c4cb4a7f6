"""Booking under load, over real HTTP: signed-in parents POST the course session's
booking form to gunicorn, as a browser does.

Two figures, each on a fresh session of a published course of the data set:

- the race: 200 parents' bookings in flight at once on 30 seats; the database must
  then hold exactly 30 confirmed and 170 waiting bookings, one per family, with no
  5xx and no "busy, try again";
- the sustained rate: 2,000 more families book one large session as fast as the
  server takes them; bookings per minute and the p95 latency of the POST.

Parents are signed in without the login form: each gets a session row written
the way ``django.contrib.auth.login`` writes it, and a CSRF cookie with the same
token in the form, so every request goes through the real middleware and view.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from bench import load
from bench.harness import goal, gunicorn, record

GOAL_RACE = "200 concurrent HTTP bookings on 30 seats exact (30 / 170 / 0 errors)"
GOAL_RATE = "One offering sustains > 400 bookings per minute over HTTP"
PORT = 8750
MARK = "bench http booking"  # the venue of the sessions this step creates
RACE_PARENTS, RACE_SEATS = 200, 30
RATE_PARENTS, RATE_CONNECTIONS = 2000, 50
IN_PROCESS = 100  # bookings made one after another in this process, for comparison
# gunicorn: gthread workers, so that every request in flight is taken at once;
# workers × threads database connections (PostgreSQL's 100 are shared).
WORKERS, THREADS = 2, 20


@dataclass
class Parent:
    guardian_id: int
    family_id: int
    cookie: str
    csrf: str


def signed_in_parents(count: int, skip: int = 0) -> tuple[list[Parent], list[str]]:
    """``count`` guardians of distinct families, each with a signed-in session.

    Returns the parents and the session keys (to delete afterwards).
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from members.models import Guardian

    guardians = list(
        Guardian.objects.filter(user__is_active=True)
        .select_related("user")
        .order_by("family_id", "pk")
        .distinct("family_id")[skip : skip + count]
    )
    expires = timezone.now() + dt.timedelta(days=1)
    store = SessionStore()
    parents, rows = [], []
    for guardian in guardians:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(guardian.user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: guardian.user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret
        cookie = f"{settings.SESSION_COOKIE_NAME}={key}; {settings.CSRF_COOKIE_NAME}={csrf}"
        parents.append(Parent(guardian.pk, guardian.family_id, cookie, csrf))
    Session.objects.bulk_create(rows, batch_size=1000)
    if len(parents) < count:
        raise RuntimeError(f"only {len(parents)} families with an active parent (need {count})")
    return parents, [row.session_key for row in rows]


def booking_request(session_pk: int, parent: Parent) -> load.Request:
    """The POST a parent's browser sends from the course page's booking form."""
    body = urlencode({"csrfmiddlewaretoken": parent.csrf, "guardian": parent.guardian_id})
    return load.Request(
        "POST",
        f"/courses/sessions/{session_pk}/book/",
        {
            "Cookie": parent.cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept-Language": "zh-hans",
        },
        body.encode(),
    )


def fresh_session(capacity: int):
    """A new session, a month ahead, of the first published course with a school."""
    from django.utils import timezone

    from courses.models import Course
    from courses.services import course_session_create

    course = Course.objects.filter(is_published=True).order_by("pk").first()
    starts = timezone.now() + dt.timedelta(days=30)
    return course_session_create(
        course=course,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=capacity,
        venue=MARK,
    )


def remove_sessions() -> None:
    """Remove the sessions (and their bookings) this step created, now or in an earlier run."""
    from bookings.models import Offering
    from courses.models import CourseSession
    from courses.services import course_next_session_refresh

    sessions = list(CourseSession.objects.filter(venue=MARK))
    offering_ids = [s.offering_id for s in sessions]
    course_ids = sorted({s.course_id for s in sessions})
    CourseSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()
    Offering.objects.filter(pk__in=offering_ids).delete()
    if course_ids:
        course_next_session_refresh(course_ids=course_ids)


@dataclass
class Tally:
    confirmed: int
    waiting: int
    families: int  # distinct families with an active booking
    places_taken: int
    waiting_families: int


def tally(session) -> Tally:
    from django.db.models import Count

    from bookings.models import Booking, Offering

    by_status = dict(
        Booking.objects.filter(offering_id=session.offering_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    families = (
        Booking.objects.filter(offering_id=session.offering_id, status__in=["confirmed", "waiting"])
        .values("family_id")
        .distinct()
        .count()
    )
    offering = Offering.objects.get(pk=session.offering_id)
    return Tally(
        by_status.get("confirmed", 0),
        by_status.get("waiting", 0),
        families,
        offering.places_taken,
        offering.waiting_families,
    )


def in_process_bookings(session, parents: list[Parent]) -> list[float]:
    """Book ``parents`` on ``session`` one after another with the service; ms each."""
    from bookings.services import booking_create
    from members.models import Guardian

    guardians = Guardian.objects.select_related("family", "user").in_bulk(
        [p.guardian_id for p in parents]
    )
    timings = []
    for parent in parents:
        guardian = guardians[parent.guardian_id]
        started = time.perf_counter()
        booking_create(
            offering_id=session.offering_id,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def _redirected_home(session, response: load.Response) -> bool:
    """The view answers a booking, confirmed or waiting, with a redirect to the course."""
    return response.status == 302 and response.headers.get("location", "").endswith(
        f"/courses/{session.course_id}/"
    )


def bench_http_booking() -> None:
    from django.contrib.sessions.models import Session
    from django.db import connection

    remove_sessions()
    parents, keys = signed_in_parents(RACE_PARENTS + RATE_PARENTS + IN_PROCESS)
    race_parents = parents[:RACE_PARENTS]
    rate_parents = parents[RACE_PARENTS : RACE_PARENTS + RATE_PARENTS]
    alone_parents = parents[RACE_PARENTS + RATE_PARENTS :]
    server_desc = f"gunicorn -k gthread -w {WORKERS} --threads {THREADS}"
    try:
        with gunicorn(PORT, workers=WORKERS, worker_class="gthread", threads=THREADS) as server:
            # Warm every thread's connection and the worker's imports on the course page.
            warm = fresh_session(10)
            load.run_load(
                server.url,
                load.get_paths(f"/courses/{warm.course_id}/"),
                connections=WORKERS * THREADS,
                total=200,
            )

            # --- the race: 200 in flight at once on 30 seats ---------------------------
            race = fresh_session(RACE_SEATS)
            odd: list[int] = []
            result = load.run_load(
                server.url,
                lambda i: booking_request(race.pk, race_parents[i]),
                connections=RACE_PARENTS,
                total=RACE_PARENTS,
                start_together=True,
                on_response=lambda i, _rq, rs: (
                    None if _redirected_home(race, rs) else odd.append(i)
                ),
            )
            counts = tally(race)
            lost = RACE_PARENTS - counts.confirmed - counts.waiting
            errors = result.server_errors + sum(result.errors.values()) + max(lost, 0) + len(odd)
            exact = (
                counts.confirmed == RACE_SEATS
                and counts.waiting == RACE_PARENTS - RACE_SEATS
                and counts.families == RACE_PARENTS
                and counts.places_taken == RACE_SEATS
                and counts.waiting_families == RACE_PARENTS - RACE_SEATS
                and errors == 0
            )
            detail = (
                f"{counts.confirmed} / {counts.waiting} / {errors} errors; places_taken "
                f"{counts.places_taken}, waiting_families {counts.waiting_families}; "
                f"p95 {result.percentile(95):.0f} ms, all done in {result.seconds:.1f} s"
            )
            record(
                "booking over HTTP",
                f"{RACE_PARENTS} signed-in parents POST the booking form of one session with "
                f"{RACE_SEATS} seats, all in flight at once ({RACE_PARENTS} connections; "
                f"{server_desc}): confirmed / waiting / errors",
                detail,
                f"bench/http_booking.py: {load.TOOL}, start_together; counts from bookings_booking",
            )
            record(
                "booking over HTTP",
                "the race's responses",
                result.summary(),
                "bench/http_booking.py",
            )
            goal(GOAL_RACE, exact, detail)

            # --- the reference: one booking after another, in this process -----------
            alone = fresh_session(IN_PROCESS)
            alone_ms = in_process_bookings(alone, alone_parents)
            alone_per_minute = 60_000 / statistics.median(alone_ms)
            record(
                "booking over HTTP",
                f"for reference: {IN_PROCESS} bookings of one session one after another in the "
                "bench process (booking_create, no HTTP): median / p95, and the rate that is",
                f"{statistics.median(alone_ms):.1f} ms / {_p95(alone_ms):.1f} ms = "
                f"{alone_per_minute:,.0f} bookings/min",
                "bookings.services.booking_create, timed in bench/http_booking.py",
            )

            # --- the sustained rate: 2,000 families book one large session ------------
            big = fresh_session(RATE_PARENTS)
            odd.clear()
            result = load.run_load(
                server.url,
                lambda i: booking_request(big.pk, rate_parents[i]),
                connections=RATE_CONNECTIONS,
                total=RATE_PARENTS,
                on_response=lambda i, _rq, rs: None if _redirected_home(big, rs) else odd.append(i),
            )
            counts = tally(big)
            booked = counts.confirmed + counts.waiting
            per_minute = booked / result.seconds * 60
            p95 = result.percentile(95)
            detail = (
                f"{per_minute:,.0f} bookings/min ({booked} in {result.seconds:.1f} s, "
                f"{RATE_CONNECTIONS} connections), p50 {result.percentile(50):.0f} ms, "
                f"p95 {p95:.0f} ms; {len(odd)} not booked, {result.server_errors} 5xx; "
                f"{per_minute / alone_per_minute:.0%} of one-after-another in-process; "
                "pretix's one lock per event: about 300–400 tickets/min"
            )
            record(
                "booking over HTTP",
                f"{RATE_PARENTS:,} families book one session ({RATE_CONNECTIONS} parents at a "
                f"time; {server_desc}): bookings per minute, POST latency p50 / p95",
                f"{per_minute:,.0f} / {result.percentile(50):.0f} ms / {p95:.0f} ms",
                f"bench/http_booking.py: {load.TOOL}; bookings counted in bookings_booking",
            )
            goal(
                GOAL_RATE,
                per_minute > 400 and booked == RATE_PARENTS and not odd,
                detail,
            )
    finally:
        connection.close()  # gunicorn's threads are gone; start from a fresh connection
        Session.objects.filter(session_key__in=keys).delete()
        remove_sessions()
