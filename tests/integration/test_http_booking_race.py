"""The race for the last seats over real HTTP: 60 signed-in parents POST the course
page's booking form at the same moment to a real gunicorn (threaded workers, each
thread its own PostgreSQL connection), for a session with 10 seats.

Exactly 10 bookings are confirmed and 50 wait, one per family, every parent is
sent back to the course page, and nothing answers 5xx or "busy". The same path,
at 200 parents and 30 seats plus a sustained rate, is measured in `make bench`
(bench/http_booking.py).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from bench import load
from bookings.models import Booking, Offering
from courses.tests.factories import CourseFactory, make_session
from members.tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
PARENTS, SEATS = 60, 10
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return (
        f"postgres://{params.get('USER') or 'postgres'}{password}@"
        f"{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}/{params['NAME']}"
    )


@pytest.fixture
def gunicorn_server():
    """gunicorn on the test database: 2 threaded workers × 8 threads (16 connections)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alliance.settings.test",
        "DATABASE_URL": _database_url(),
        # Deliveries go to the broker as in production, not run inside the request.
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "alliance.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-k",
            "gthread",
            "-w",
            "2",
            "--threads",
            "8",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited"
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _signed_in_form(guardian, course_url: str) -> tuple[str, str]:
    """The parent's cookies and the CSRF token of the course page's booking form."""
    client = Client()
    client.force_login(guardian.user)
    page = client.get(course_url)
    assert page.status_code == 200
    token = TOKEN.search(page.content.decode()).group(1)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    return cookie, token


def test_60_concurrent_http_bookings_on_10_seats_are_exact(gunicorn_server):
    course = CourseFactory()
    session = make_session(course, capacity=SEATS)
    course_url = reverse("courses:detail", args=[course.pk])
    book_url = reverse("courses:book", args=[session.pk])
    guardians = GuardianFactory.create_batch(PARENTS)
    forms = [_signed_in_form(guardian, course_url) for guardian in guardians]

    def booking(index: int) -> load.Request:
        cookie, token = forms[index]
        body = urlencode({"csrfmiddlewaretoken": token, "guardian": guardians[index].pk})
        return load.Request(
            "POST",
            book_url,
            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            body.encode(),
        )

    locations: list[str] = []
    result = load.run_load(
        gunicorn_server,
        booking,
        connections=PARENTS,
        total=PARENTS,
        start_together=True,
        timeout=30,
        on_response=lambda _i, _rq, response: locations.append(response.headers.get("location")),
    )

    assert not result.errors, result.summary()
    assert result.statuses == {302: PARENTS}, result.summary()
    assert locations == [course_url] * PARENTS
    bookings = Booking.objects.filter(offering_id=session.offering_id)
    assert bookings.filter(status=Booking.Status.CONFIRMED).count() == SEATS
    assert bookings.filter(status=Booking.Status.WAITING).count() == PARENTS - SEATS
    assert bookings.count() == PARENTS
    assert sorted(bookings.values_list("family_id", flat=True)) == sorted(
        g.family_id for g in guardians
    )
    offering = Offering.objects.get(pk=session.offering_id)
    assert (offering.places_taken, offering.waiting_families) == (SEATS, PARENTS - SEATS)
