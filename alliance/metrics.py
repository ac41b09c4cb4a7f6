"""Prometheus metrics and the readiness check (issue 19, docs/OPERATIONS.md "metrics").

What is measured where:

- Web nodes (``MetricsMiddleware``): each request's latency and status, and how
  many SQL queries it ran, labelled by the URL *name* (``resolver_match.view_name``),
  never by the path, so ids and tokens never become label values.
- Workers (Celery signals, connected when a worker imports this module through
  ``CELERY_IMPORTS``): each task's outcome (success, failure, retry).
- At scrape time (``PortalCollector``): the length of each Celery queue in Redis,
  the outbox backlog and failures by channel, and bookings of the last minute;
  each a single aggregate query on an index, or a few Redis LLENs.

Gunicorn runs several worker processes and Celery's prefork pool several
children: with ``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts),
prometheus_client keeps each process's values in files there, and a scrape adds
them up (its "multiprocess mode"). Without it (tests, runserver) the process's
own registry is served.

``/metrics`` answers only a request with ``Authorization: Bearer <METRICS_TOKEN>``
or one that reaches the node directly from ``METRICS_ALLOWED_NETS``; anything
else is a 404, as if the page did not exist.
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Iterable
from contextlib import ExitStack

from django.conf import settings
from django.db.models.signals import post_save
from django.http import HttpResponse, HttpResponseNotFound, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

# --- the metrics ---------------------------------------------------------------------

# Requests are labelled by URL name and method; an unknown method is "other", a path
# that resolves to no view "<unresolved>": a scanner cannot add label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED = "<unresolved>"

REQUESTS = Counter(
    "alliance_http_requests",
    "HTTP responses by URL name, method and status code.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "alliance_http_request_duration_seconds",
    "Time from the request entering the portal's middleware to its response.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
QUERIES = Histogram(
    "alliance_http_request_db_queries",
    "SQL queries run while answering one request.",
    ["view"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500),
)
TASKS = Counter(
    "alliance_celery_tasks",
    "Celery task outcomes by task name (success, failure, retry).",
    ["task", "outcome"],
)
BOOKINGS_CREATED = Counter(
    "alliance_bookings_created",
    "Bookings committed by this process (rate() gives bookings per second).",
)


def _multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


# --- web: the middleware ---------------------------------------------------------------


class _QueryCounter:
    """A ``connection.execute_wrapper``: counts the queries, adds nothing else."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class MetricsMiddleware:
    """Times each request and counts its status and SQL queries, by URL name."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.db import connections

        started = time.perf_counter()
        counter = _QueryCounter()
        with ExitStack() as stack:
            # Every alias (the replica too, when set); wrapping does not connect.
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(counter))
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or UNRESOLVED
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        LATENCY.labels(view, method).observe(elapsed)
        QUERIES.labels(view).observe(counter.count)
        return response


# --- workers: task outcomes ------------------------------------------------------------


def _task_name(sender) -> str:
    return getattr(sender, "name", None) or str(sender)


def _connect_celery_signals() -> None:
    from celery.signals import task_failure, task_retry, task_success, worker_ready

    @task_success.connect(weak=False)
    def _on_success(sender=None, **kwargs):
        TASKS.labels(_task_name(sender), "success").inc()

    @task_failure.connect(weak=False)
    def _on_failure(sender=None, **kwargs):
        TASKS.labels(_task_name(sender), "failure").inc()

    @task_retry.connect(weak=False)
    def _on_retry(sender=None, **kwargs):
        TASKS.labels(_task_name(sender), "retry").inc()

    @worker_ready.connect(weak=False)
    def _serve_worker_metrics(sender=None, **kwargs):
        worker_metrics_server_start()


_connect_celery_signals()


def worker_metrics_server_start() -> bool:
    """A worker node's own scrape port (``METRICS_WORKER_PORT``), from the main
    worker process: it adds up its pool children's files in the multiprocess
    directory. Bound to ``METRICS_WORKER_ADDR`` (loopback by default), no token:
    reach it only from the monitoring network."""
    port = getattr(settings, "METRICS_WORKER_PORT", 0)
    if not port or not _multiprocess_dir():
        return False
    from prometheus_client import start_http_server

    start_http_server(port, addr=settings.METRICS_WORKER_ADDR, registry=scrape_registry())
    return True


def _bookings_commit_counter(sender, instance, created, **kwargs):
    if created:
        from django.db import transaction

        transaction.on_commit(BOOKINGS_CREATED.inc)


# A lazy sender ("app_label.Model"): connected once the apps are loaded, in web
# processes (the middleware imports this module) and workers (CELERY_IMPORTS).
post_save.connect(
    _bookings_commit_counter, sender="bookings.Booking", dispatch_uid="alliance.metrics.bookings"
)


# --- at scrape time: queues, outbox, bookings -----------------------------------------


class PortalCollector:
    """Gauges read when Prometheus scrapes: each a cheap aggregate (see the module doc)."""

    def collect(self) -> Iterable:
        yield from self._queues()
        yield from self._outbox()
        yield from self._bookings()
        yield from self._replica()

    def _queues(self):
        gauge = GaugeMetricFamily(
            "alliance_celery_queue_length",
            "Messages waiting in each Celery queue (Redis LLEN; absent without Redis).",
            labels=["queue"],
        )
        url = settings.CELERY_BROKER_URL
        if url.startswith(("redis://", "rediss://")):
            try:
                for name, length in celery_queue_lengths(url).items():
                    gauge.add_metric([name], length)
            except Exception:  # noqa: BLE001 - Redis down: no sample, /readyz tells
                pass
        yield gauge

    def _outbox(self):
        from django.db.models import Count

        from events.models import Delivery

        backlog = GaugeMetricFamily(
            "alliance_outbox_backlog",
            "Deliveries waiting to be sent (pending or claimed), by channel and status.",
            labels=["channel", "status"],
        )
        failed = GaugeMetricFamily(
            "alliance_outbox_failed",
            f"Deliveries given up (status failed) among the latest "
            f"{settings.METRICS_OUTBOX_FAILED_WINDOW} rows, by channel.",
            labels=["channel"],
        )
        counts = {
            (channel, status): 0
            for channel in Delivery.Channel.values
            for status in (Delivery.Status.PENDING, Delivery.Status.CLAIMED)
        }
        failures = dict.fromkeys(Delivery.Channel.values, 0)
        try:
            # Pending and claimed rows each have a partial index (delivery_pending_due,
            # delivery_claimed): the scan covers only the backlog.
            for status in (Delivery.Status.PENDING, Delivery.Status.CLAIMED):
                rows = (
                    Delivery.objects.filter(status=status)
                    .order_by()
                    .values_list("channel")
                    .annotate(n=Count("pk"))
                )
                for channel, n in rows:
                    counts[(channel, status)] = n
            # Failed rows have no index of their own: counted in the newest rows only,
            # a range of the primary key (bounded work however big the table grows).
            newest = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first()
            if newest is not None:
                floor = newest - settings.METRICS_OUTBOX_FAILED_WINDOW
                rows = (
                    Delivery.objects.filter(pk__gt=floor, status=Delivery.Status.FAILED)
                    .order_by()
                    .values_list("channel")
                    .annotate(n=Count("pk"))
                )
                for channel, n in rows:
                    failures[channel] = n
        except Exception:  # noqa: BLE001 - database down: no samples, /readyz tells
            return
        for (channel, status), n in counts.items():
            backlog.add_metric([channel, status], n)
        for channel, n in failures.items():
            failed.add_metric([channel], n)
        yield backlog
        yield failed

    def _bookings(self):
        from django.utils import timezone

        from bookings.models import Booking

        gauge = GaugeMetricFamily(
            "alliance_bookings_last_minute",
            "Bookings created in the last 60 seconds (all nodes: read from the database).",
        )
        try:
            # Booking has no index on created_at; ids grow with time, so the newest
            # ids (primary key, bounded) hold every booking of the last minute.
            newest = Booking.objects.order_by("-pk").values_list("pk", flat=True).first()
            if newest is None:
                n = 0
            else:
                n = Booking.objects.filter(
                    pk__gt=newest - settings.METRICS_BOOKINGS_WINDOW,
                    created_at__gte=timezone.now() - datetime.timedelta(seconds=60),
                ).count()
        except Exception:  # noqa: BLE001
            return
        gauge.add_metric([], n)
        yield gauge

    def _replica(self):
        """The read replica's lag (only with DATABASE_REPLICA_URL; docs/OPERATIONS.md
        "read replica"): two one-row queries, the primary's WAL position then the
        replica's replay position."""
        from django.db import connections

        from alliance.db_router import REPLICA, replica_configured

        if not replica_configured():
            return
        up = GaugeMetricFamily("alliance_db_replica_up", "1 while the read replica answers.")
        behind = GaugeMetricFamily(
            "alliance_db_replica_lag_bytes",
            "WAL written on the primary that the replica has not replayed yet.",
        )
        seconds = GaugeMetricFamily(
            "alliance_db_replica_lag_seconds",
            "While WAL waits to be replayed, the age of the last replayed transaction; "
            "0 when the replica has caught up (an idle primary is not lag).",
        )
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
                lsn = cursor.fetchone()[0]
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(
                    "SELECT greatest(pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), 0),"
                    " coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)",
                    [lsn],
                )
                lag_bytes, age = cursor.fetchone()
        except Exception:  # noqa: BLE001 - replica (or primary) down: up 0
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        behind.add_metric([], float(lag_bytes))
        seconds.add_metric([], float(age) if lag_bytes > 0 else 0.0)
        yield up
        yield behind
        yield seconds


def celery_queue_lengths(url: str) -> dict[str, int]:
    """LLEN of every queue the app knows (kombu keeps priority levels in extra keys)."""
    import redis

    from alliance.celery import app

    names = set(getattr(settings, "METRICS_CELERY_QUEUES", []) or [])
    names |= set(app.amqp.queues.keys()) or {app.conf.task_default_queue}
    steps = app.conf.broker_transport_options.get("priority_steps", [0, 3, 6, 9])
    separator = app.conf.broker_transport_options.get("sep", "\x06\x16")
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        pipe = client.pipeline(transaction=False)
        ordered = sorted(names)
        for name in ordered:
            for step in steps:
                pipe.llen(name if not step else f"{name}{separator}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per_queue = len(steps)
    return {
        name: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(ordered)
    }


class _ThisProcess:
    """The default registry as a collector (single-process mode)."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """What one scrape reads: every process's files in multiprocess mode, else
    this process's registry; and the portal's scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    folder = _multiprocess_dir()
    if folder:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_ThisProcess())
    registry.register(PortalCollector())
    return registry


# --- /metrics --------------------------------------------------------------------------


def _bearer_ok(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, given = header.partition(" ")
    if not token or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _network_ok(request) -> bool:
    # Through a proxy (nginx sets X-Forwarded-For) REMOTE_ADDR is the proxy's own,
    # often loopback: only the token counts then. A client adding the header
    # itself only refuses itself.
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_X_REAL_IP" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


def _allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_NETS]


def metrics_allowed(request) -> bool:
    return _bearer_ok(request) or _network_ok(request)


@require_GET
@never_cache
def metrics(request):
    if not metrics_allowed(request):
        return HttpResponseNotFound()
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


# --- /readyz ---------------------------------------------------------------------------

_migrations_lock = threading.Lock()
_migrations_checked: tuple[float, bool, str] | None = None


def migrations_check_cached() -> tuple[bool, str]:
    """The unapplied-migrations check, its answer kept READYZ_MIGRATIONS_CACHE_SECONDS:
    building the migration graph costs tens of milliseconds, a probe comes every few
    seconds."""
    global _migrations_checked
    from portal.health import check_migrations

    seconds = settings.READYZ_MIGRATIONS_CACHE_SECONDS
    with _migrations_lock:
        cached = _migrations_checked
        if cached is not None and time.monotonic() - cached[0] < seconds:
            return cached[1], cached[2]
    ok, detail = check_migrations()
    with _migrations_lock:
        _migrations_checked = (time.monotonic(), ok, detail)
    return ok, detail


def migrations_check_forget() -> None:
    global _migrations_checked
    with _migrations_lock:
        _migrations_checked = None


@require_GET
@never_cache
def readyz(request):
    """Ready for traffic: the database answers and no migration is pending.
    ``/healthz`` is the liveness check (is the process up at all).

    Redis down is *degraded*, not unready (200, ``"status": "degraded"``): Redis is
    shared by every node, so a balancer that drained not-ready nodes would drain
    them all, while the portal is built to serve without Redis (alliance/cache.py;
    docs/OPERATIONS.md, "Outages"). The database and the migrations are checked
    first; a pending migration or an unreachable database is 503."""
    from portal.health import check_cache, check_database

    for name, check in (("database", check_database), ("migrations", migrations_check_cached)):
        ok, detail = check()
        if not ok:
            return JsonResponse(
                {"status": "unavailable", "reason": name, "detail": detail}, status=503
            )
    ok, detail = check_cache()
    if not ok:
        return JsonResponse({"status": "degraded", "degraded": ["cache"], "detail": detail})
    return JsonResponse({"status": "ready"})
