import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_reports_every_part_up_on_real_postgres_and_redis(client):
    # given the real PostgreSQL and Redis of the test run
    assert connection.vendor == "postgresql"

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "detail": "postgresql"}
    assert body["checks"]["cache"] == {"ok": True, "detail": "TolerantRedisCache"}
    assert body["checks"]["broker"] == {"ok": True, "detail": "redis"}
    assert body["checks"]["migrations"] == {"ok": True, "detail": "up to date"}


def test_healthz_is_503_when_redis_is_unreachable(client, settings):
    # given a cache and broker on a port where nothing listens
    dead = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = dead
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
        # when
        response = client.get("/healthz")
    finally:
        caches._settings = None

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
