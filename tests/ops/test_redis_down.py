"""With Redis down the portal keeps serving (docs/OPERATIONS.md, "outages").

A real ``redis-server`` of the test's own is the cache and the broker; the test
proves it is used, kills it (SIGKILL, as a crashed or unplugged Redis), walks the
pages, the sign-in and the API through the Django test client, then starts it
again on the same port and proves the cache is used again once the breaker's
period has passed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
import redis
from django.core.cache import cache, caches
from django.test import Client

from alliance.cache import TolerantRedisCache, breaker
from alliance.celery import app
from bookings.models import Booking
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.models import Delivery
from members.tests.factories import ApiTokenFactory, UserFactory
from members.tests.family_support import sms_outbox_fixture  # noqa: F401 - fixture
from tests.helpers import wait_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

BREAKER_SECONDS = 1.0
PASSWORD = "Lantern-river-42"
SMS_DOWN = "短信验证码服务暂时不可用，请稍后再试或使用密码登录。"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """One redis-server on a port of its own, without persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        wait_for(lambda: self._pings(client), timeout=10, interval=0.05)

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.exceptions.ConnectionError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test as the cache (the tolerant backend, a short
    breaker) and as this process's broker with tasks really queued, not eager."""
    server = RedisProcess(_free_port())
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "alliance.cache.TolerantRedisCache",
            "LOCATION": server.url,
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 1,
                "breaker_seconds": BREAKER_SECONDS,
            },
        }
    }
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30  # the shared page goes through the cache
    breaker.reset()
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = server.url, False
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield server
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        app._pool = None
        app.amqp._producer_pool = None
        server.kill()
        breaker.reset()


@pytest.fixture
def world(db):
    """A course session with free places, a family with an API token, and an
    email-and-password user whose phone is verified (a password sign-in texts
    nothing)."""
    family, guardians, kids = make_family(children=1)
    session = make_session(CourseFactory(), capacity=5)
    _, raw = ApiTokenFactory.create(user=guardians[0].user, scopes=["read", "write"])
    UserFactory(email="mum@example.cn", phone="13700001111", phone_verified=True, password=PASSWORD)
    return {
        "family": family,
        "booking": {
            "offering_id": session.offering_id,
            "guardian_ids": [guardians[0].pk],
            "child_ids": [kids[0].pk],
        },
        "api": Client(HTTP_AUTHORIZATION=f"Bearer {raw}"),
    }


@contextmanager
def quick(limit: float = 1.0):
    """The block must end within ``limit`` seconds (no waiting on Redis timeouts)."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < limit, f"took {elapsed:.2f}s"


def _book(api_client, body):
    return api_client.post(
        "/api/v1/learning/bookings", json.dumps(body), content_type="application/json"
    )


def test_the_portal_serves_while_redis_is_down_and_uses_it_again_when_back(
    own_redis, world, client, sms_outbox, django_capture_on_commit_callbacks
):
    # given Redis up: the cache is used
    cache.set("ops:probe", "up", 60)
    assert cache.get("ops:probe") == "up"
    assert client.get("/courses/").status_code == 200
    assert world["api"].get("/api/v1/catalogue/courses").status_code == 200

    # when Redis dies
    own_redis.kill()

    # then the catalogue, the sign-in page and a password sign-in work
    with quick(2.0):  # the first request meets the refused connection and opens the breaker
        assert client.get("/courses/").status_code == 200
    with quick():
        assert client.get("/courses/").status_code == 200
        assert client.get("/accounts/login/").status_code == 200
    with quick():
        response = client.post(
            "/accounts/login/", {"login": "mum@example.cn", "password": PASSWORD}
        )
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.get("/family/").status_code == 200  # signed in: the session is in the database
    assert cache.get("ops:probe") is None  # a miss, not an error

    # and the API answers, its rate limits off (no 429, no 500)
    with quick():
        assert world["api"].get("/api/v1/catalogue/courses").status_code == 200
    with quick(), django_capture_on_commit_callbacks(execute=True):
        # after the commit the outbox kick meets the dead broker: logged, not raised
        response = _book(world["api"], world["booking"])
    assert response.status_code == 201, response.content.decode()[:500]
    booking = Booking.objects.get(family=world["family"])
    assert booking.status == Booking.Status.CONFIRMED
    # the confirmation waits in the database for the beat pass
    notices = Delivery.objects.filter(
        purpose="confirmation", user__guardian__family=world["family"]
    )
    assert notices.exists()
    assert set(notices.values_list("status", flat=True)) == {Delivery.Status.PENDING}

    # and asking for a texted code says the service is unavailable, sends nothing
    # and stashes no half-started sign-in
    anonymous = Client()
    with quick():
        response = anonymous.post("/accounts/login/code/", {"phone": "13700001111", "email": ""})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/"
    page = anonymous.get(response["Location"])
    assert page.status_code == 200
    assert SMS_DOWN in page.content.decode()
    assert sms_outbox == []
    assert not Delivery.objects.filter(purpose=Delivery.Purpose.ACCOUNT).exists()
    # the same answer for a number without an account (no enumeration)
    response = Client().post("/accounts/login/code/", {"phone": "13700002222", "email": ""})
    assert response["Location"] == "/accounts/login/code/"

    # and the readiness probe says degraded, at once, but keeps the node in the
    # balancer (every node shares this Redis)
    with quick():
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["degraded"] == ["cache"]

    # when Redis is back on the same port (empty: it kept nothing)
    own_redis.start()
    time.sleep(BREAKER_SECONDS + 0.1)

    # then the cache is used again
    cache.set("ops:probe", "back", 60)
    assert cache.get("ops:probe") == "back"
    assert redis.Redis.from_url(own_redis.url).exists(cache.make_key("ops:probe")) == 1
    assert client.get("/readyz").status_code == 200
    # and a code can be asked for again
    response = Client().post("/accounts/login/code/", {"phone": "13700001111", "email": ""})
    assert response["Location"].startswith("/accounts/login/code/confirm/")


def test_the_breaker_skips_redis_for_its_period_and_logs_once(own_redis, caplog):
    # given the cache in use, then Redis gone
    tolerant = caches["default"]
    assert isinstance(tolerant, TolerantRedisCache)
    tolerant.set("ops:probe", 1, 60)
    own_redis.kill()

    # when many calls are made within the breaker's period
    started = time.monotonic()
    answers = [tolerant.get("ops:probe", "miss") for _ in range(50)]
    adds = [tolerant.add("ops:lock", 1, 60) for _ in range(3)]
    with pytest.raises(ValueError):
        tolerant.incr("ops:count")
    elapsed = time.monotonic() - started

    # then they answer as an empty cache, without waiting on Redis each time
    assert answers == ["miss"] * 50
    assert adds == [True, True, True]  # add fails open (docs/OPERATIONS.md, "outages")
    assert tolerant.get_many(["a", "b"]) == {}
    assert tolerant.set_many({"a": 1}) == ["a"]
    assert elapsed < 1.0
    assert tolerant.available() is False

    # and one warning was logged for the opening, naming no key
    warnings = [r for r in caplog.records if "cache_unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert "ops:probe" not in warnings[0].getMessage()


def test_readyz_answers_within_about_a_second_when_redis_hangs(client, settings):
    # given a "Redis" that accepts connections and never answers (a hung server)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "alliance.cache.TolerantRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1, "breaker_seconds": 5},
        }
    }
    breaker.reset()
    try:
        # when the probe asks, twice
        with quick(1.5):  # one socket timeout, then the breaker skips the read-back
            first = client.get("/readyz")
        with quick(0.2):  # the breaker is open: no wait at all
            second = client.get("/readyz")
    finally:
        listener.close()
        breaker.reset()

    # then both say degraded because of the cache
    assert first.status_code == second.status_code == 200
    assert first.json()["degraded"] == second.json()["degraded"] == ["cache"]


def test_account_mails_asked_for_on_a_form_are_refused_while_redis_is_down(own_redis, world):
    # given Redis gone
    own_redis.kill()
    anonymous = Client()

    # when a password reset and an emailed sign-in code are asked for, for a known
    # address and an unknown one
    answers = [
        anonymous.post("/accounts/password/reset/", {"email": "mum@example.cn"}),
        anonymous.post("/accounts/password/reset/", {"email": "nobody@example.cn"}),
        anonymous.post("/accounts/login/code/", {"phone": "", "email": "mum@example.cn"}),
    ]

    # then each goes back to its form with the same message, and nothing is queued
    assert [answer["Location"] for answer in answers] == [
        "/accounts/password/reset/",
        "/accounts/password/reset/",
        "/accounts/login/code/",
    ]
    assert (
        "邮件暂时无法发送，请稍后再试。"
        in anonymous.get("/accounts/password/reset/").content.decode()
    )
    assert not Delivery.objects.filter(purpose=Delivery.Purpose.ACCOUNT).exists()
