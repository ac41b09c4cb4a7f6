"""/readyz (alliance/metrics.py): ready when the database and the cache answer and
no migration is pending; /healthz stays the liveness check."""

import pytest
from django.db import OperationalError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from alliance.metrics import migrations_check_forget

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_migration_check():
    # the answer is kept a few seconds; each test asks afresh
    migrations_check_forget()
    yield
    migrations_check_forget()


def _leaf(app_label: str) -> tuple[str, str]:
    """The app's newest migration (a leaf of the graph the code ships)."""
    loader = MigrationLoader(connection)
    return next(node for node in loader.graph.leaf_nodes() if node[0] == app_label)


def test_ready_on_the_migrated_test_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_not_ready_while_a_migration_is_pending(client):
    # given code with a migration the database has not applied: the newest applied
    # migration's record is removed (inside this test's transaction, rolled back after)
    recorder = MigrationRecorder(connection)
    app, name = _leaf("bookings")
    recorder.record_unapplied(app, name)

    # when the load balancer asks
    response = client.get("/readyz")

    # then the node is kept out of rotation, and says why
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"] == "migrations"
    assert body["detail"] == "1 pending"

    # and once the migration is applied (and the kept answer has expired) it is ready
    recorder.record_applied(app, name)
    migrations_check_forget()
    assert client.get("/readyz").status_code == 200


def test_the_migration_answer_is_kept_a_few_seconds(client, settings):
    # given a ready node that has just answered
    settings.READYZ_MIGRATIONS_CACHE_SECONDS = 60
    assert client.get("/readyz").status_code == 200
    MigrationRecorder(connection).record_unapplied(*_leaf("bookings"))

    # then within the cache time the graph is not rebuilt (a cheap probe) …
    assert client.get("/readyz").status_code == 200
    # … and with no cache time it is
    settings.READYZ_MIGRATIONS_CACHE_SECONDS = 0
    assert client.get("/readyz").status_code == 503


def test_not_ready_when_the_database_is_unreachable(client, monkeypatch):
    # given a database that refuses every cursor
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refused(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refused)

    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "database",
        "detail": "OperationalError",
    }


def test_ready_but_degraded_when_redis_is_unreachable(client, settings):
    # Redis is shared by every node: draining them all would turn a cache outage
    # into a whole outage, and the portal serves without it (tests/ops/test_redis_down.py).
    # given a cache on a port where nothing listens
    dead = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    from django.core.cache import caches

    caches._settings = None  # rebuild the cache handler from the new settings
    try:
        response = client.get("/readyz")
    finally:
        caches._settings = None

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["degraded"] == ["cache"]


def test_healthz_stays_the_liveness_check(client):
    assert client.get("/healthz").status_code == 200


def test_probes_are_not_redirected_to_https(client, settings):
    # given production's HTTPS redirect: a probe reaches the node over plain HTTP
    settings.SECURE_SSL_REDIRECT = True

    # then the pages answer, while every other page is redirected
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/").status_code == 301
