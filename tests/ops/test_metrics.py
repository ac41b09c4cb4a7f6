"""/metrics (alliance/metrics.py): per-view request metrics, SQL queries per request,
Celery task outcomes from a real worker, queue lengths in Redis, the outbox backlog
by channel, bookings of the last minute; refused outside the token and the networks."""

import datetime
import socket
import urllib.request
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alliance.celery import app
from events.models import Delivery
from portal.tasks import heartbeat
from tests.helpers import wait_for

TOKEN = "metrics-test-token-0123456789"
OUTSIDE = "203.0.113.9"  # TEST-NET-3: not in METRICS_ALLOWED_NETS


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.django_db
def test_a_view_request_is_counted_under_its_url_name_with_its_queries(client, metrics_token):
    # given the counters before
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "REMOTE_ADDR": OUTSIDE}
    before = scrape(client, **auth)
    labels = {"view": "courses:catalogue", "method": "GET"}

    # when the catalogue is opened twice
    assert client.get(reverse("courses:catalogue")).status_code == 200
    assert client.get(reverse("courses:catalogue")).status_code == 200

    # then its counter, latency and query histogram grew by two, under the URL name
    after = scrape(client, **auth)
    name = "alliance_http_requests_total"
    assert value(after, name, status="200", **labels) - value(
        before, name, status="200", **labels
    ) == (2)
    count = "alliance_http_request_duration_seconds_count"
    assert value(after, count, **labels) - value(before, count, **labels) == 2
    queries = "alliance_http_request_db_queries"
    assert value(after, f"{queries}_count", view="courses:catalogue") - value(
        before, f"{queries}_count", view="courses:catalogue"
    ) == (2)
    assert value(after, f"{queries}_sum", view="courses:catalogue") > value(
        before, f"{queries}_sum", view="courses:catalogue"
    )


@pytest.mark.django_db
def test_ids_and_tokens_in_paths_never_become_labels(client, metrics_token):
    # given a path with a made-up secret and one that resolves to nothing
    client.get("/calendar/secret-feed-token-xyz.ics")
    client.get("/no-such-page-4711/")

    # then the labels carry URL names only
    text = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "secret-feed-token-xyz" not in text
    assert "4711" not in text
    assert (
        value(text, "alliance_http_requests_total", view="<unresolved>", method="GET", status="404")
        >= 1
    )
    assert (
        value(
            text,
            "alliance_http_requests_total",
            view="events:calendar_feed",
            method="GET",
            status="404",
        )
        >= 1
    )


@pytest.mark.django_db
def test_metrics_are_refused_without_the_token_outside_the_allowed_networks(client, metrics_token):
    # from an address outside METRICS_ALLOWED_NETS, without or with a wrong token: 404
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404
    wrong = {"HTTP_AUTHORIZATION": "Bearer not-the-token", "REMOTE_ADDR": OUTSIDE}
    assert client.get("/metrics", **wrong).status_code == 404
    # through the proxy (nginx adds X-Forwarded-For) loopback is not enough
    proxied = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": OUTSIDE}
    assert client.get("/metrics", **proxied).status_code == 404
    # with the token from anywhere, or directly from the allowed network: 200
    right = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "REMOTE_ADDR": OUTSIDE}
    assert client.get("/metrics", **right).status_code == 200
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_without_a_token_setting_no_bearer_opens_it(client, settings):
    settings.METRICS_TOKEN = ""
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR=OUTSIDE).status_code == 404
    )


@pytest.mark.django_db
def test_the_allowed_networks_come_from_the_setting(client, settings):
    settings.METRICS_ALLOWED_NETS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def _account_delivery(channel: str, status: str) -> Delivery:
    now = timezone.now()
    return Delivery.objects.create(
        purpose=Delivery.Purpose.ACCOUNT,
        account_kind=Delivery.AccountKind.VERIFICATION_CODE,
        message_key=uuid.uuid4().hex,
        address="test@example.cn",
        channel=channel,
        scheduled_for=now,
        due_at=now,
        status=status,
    )


@pytest.mark.django_db
def test_the_outbox_backlog_and_failures_are_gauges_by_channel(client):
    # given pending, claimed and failed deliveries on several channels
    for _ in range(3):
        _account_delivery(Delivery.Channel.SMS, Delivery.Status.PENDING)
    _account_delivery(Delivery.Channel.EMAIL, Delivery.Status.PENDING)
    _account_delivery(Delivery.Channel.EMAIL, Delivery.Status.CLAIMED)
    _account_delivery(Delivery.Channel.SMS, Delivery.Status.FAILED)
    _account_delivery(Delivery.Channel.SMS, Delivery.Status.FAILED)
    _account_delivery(Delivery.Channel.EMAIL, Delivery.Status.SENT)

    # when Prometheus scrapes
    text = scrape(client)

    # then
    backlog = "alliance_outbox_backlog"
    assert value(text, backlog, channel="sms", status="pending") == 3
    assert value(text, backlog, channel="email", status="pending") == 1
    assert value(text, backlog, channel="email", status="claimed") == 1
    assert (backlog, frozenset({"channel": "wechat", "status": "pending"}.items())) in samples(text)
    assert value(text, "alliance_outbox_failed", channel="sms") == 2
    assert value(text, "alliance_outbox_failed", channel="email") == 0


@pytest.mark.django_db
def test_bookings_of_the_last_minute(client):
    from bookings.models import Booking
    from bookings.services import booking_create
    from bookings.tests.conftest import make_family
    from bookings.tests.factories import OfferingFactory

    # given three bookings, one of them made an hour ago
    offering = OfferingFactory(capacity=10)
    before = value(scrape(client), "alliance_bookings_created_total")
    bookings = []
    for _ in range(3):
        family, guardians, _children = make_family()
        bookings.append(
            booking_create(
                offering_id=offering.pk,
                family=family,
                booked_by=guardians[0].user,
                guardian_ids=[guardians[0].pk],
            )
        )
    Booking.objects.filter(pk=bookings[0].pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=1)
    )

    # when scraped
    text = scrape(client)

    # then the gauge counts the last minute's two
    assert value(text, "alliance_bookings_last_minute") == 2
    # the counter counts committed bookings only: inside this test's transaction, none
    assert value(text, "alliance_bookings_created_total") == before


@pytest.mark.django_db
def test_the_bookings_counter_counts_on_commit(client, django_capture_on_commit_callbacks):
    from bookings.services import booking_create
    from bookings.tests.conftest import make_family
    from bookings.tests.factories import OfferingFactory

    # given
    offering = OfferingFactory(capacity=10)
    family, guardians, _children = make_family()
    before = value(scrape(client), "alliance_bookings_created_total")

    # when a booking is made and its transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
        )

    # then
    assert value(scrape(client), "alliance_bookings_created_total") == before + 1


@pytest.mark.django_db
def test_the_queue_length_gauge_reads_redis(client, settings):
    # given a queue nobody consumes, with two messages waiting in Redis (really
    # sent: this test process runs other tasks eagerly)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    settings.METRICS_CELERY_QUEUES = [queue]
    with app.connection_for_write() as conn:
        redis = conn.default_channel.client
        try:
            for _ in range(2):
                app.send_task("portal.tasks.heartbeat", args=["x"], queue=queue, connection=conn)

            # when scraped
            text = scrape(client)
        finally:
            for key in redis.keys(f"*{queue}*"):
                redis.delete(key)
            app.conf.task_always_eager = eager
            app.amqp.queues.pop(queue, None)  # sending declared it in this process

    # then its gauge shows them, and the declared queues are measured too
    assert value(text, "alliance_celery_queue_length", queue=queue) == 2
    for declared in ("notify", "reports", "default"):
        assert ("alliance_celery_queue_length", frozenset({"queue": declared}.items())) in (
            samples(text)
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def multiprocess_metrics(tmp_path, monkeypatch):
    """PROMETHEUS_MULTIPROC_DIR and a worker scrape port, set before the worker starts
    (the worker's environment is copied from this process's)."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    port = _free_port()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setenv("METRICS_WORKER_PORT", str(port))
    return port


@pytest.mark.celery_worker
@pytest.mark.usefixtures("multiprocess_metrics")
def test_task_outcomes_of_a_real_worker_are_counted(celery_worker_process, client, settings):
    import os

    port = int(os.environ["METRICS_WORKER_PORT"])
    token = uuid.uuid4().hex

    # when the real worker (prefork pool, on Redis) runs a task that succeeds and
    # one that fails (called without its argument)
    heartbeat.delay(token)
    app.send_task("portal.tasks.heartbeat", args=[])
    assert wait_for(lambda: _cache_has(token), timeout=60)

    def worker_metrics() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return ""

    def outcomes(text: str):
        success = value(
            text, "alliance_celery_tasks_total", task="portal.tasks.heartbeat", outcome="success"
        )
        failure = value(
            text, "alliance_celery_tasks_total", task="portal.tasks.heartbeat", outcome="failure"
        )
        return (success, failure) if success and failure else None

    # then the worker's own scrape port adds up its pool children's counters
    assert wait_for(lambda: outcomes(worker_metrics()), timeout=60) == (1.0, 1.0)
    # and a web node sharing the multiprocess folder serves them as well
    assert outcomes(scrape(client)) == (1.0, 1.0)
    assert celery_worker_process.poll() is None


def _cache_has(token: str) -> bool:
    from django.core.cache import cache

    return cache.get(f"heartbeat:{token}") == "alive"
