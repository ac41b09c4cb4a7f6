"""Each pytest-xdist worker gets its own Redis database and media folder.

pytest-django already gives each worker its own test database (``_gw0``, ``_gw1``
suffixes). Redis is the cache and the Celery broker: two workers on one database
would clear each other's rate-limit counters (``cache.clear()`` is FLUSHDB) and
pick up each other's Celery tasks. So worker gwN uses database
``<base> + N * REDIS_DB_STRIDE``, <base> being the one ``REDIS_URL`` names: with two
workers, bases 0-7 never meet (0 and 8, 1 and 9, …, 7 and 15).

pytest-django loads the settings before any conftest is imported, so
``isolate_xdist_worker()`` (called by the root conftest.py at import, before the
first test opens a cache or broker connection) writes the worker's values into
them, and into the environment for the Celery workers and servers a test starts
as subprocesses.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

REDIS_DB_STRIDE = 8
REDIS_DATABASES = 16  # Redis's default `databases`

# REDIS_URL as `make test` gave it, before a worker's database was put in.
BASE_REDIS_URL = os.environ.get("REDIS_URL", "")


def worker_index() -> int | None:
    """N for xdist worker gwN; None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return int(worker.removeprefix("gw")) if worker else None


def redis_url_for_worker(url: str, index: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = base + index * REDIS_DB_STRIDE
    if number >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"xdist worker gw{index} would need Redis database {number} (REDIS_URL {url}): "
            f"run fewer workers (make test PYTEST_WORKERS=…) or use a Redis database "
            f"below {REDIS_DATABASES - index * REDIS_DB_STRIDE}."
        )
    return urlunsplit(parts._replace(path=f"/{number}"))


def isolate_xdist_worker() -> None:
    index = worker_index()
    if index is None:
        return
    redis_url = redis_url_for_worker(BASE_REDIS_URL, index)
    os.environ["REDIS_URL"] = redis_url
    settings.REDIS_URL = redis_url
    for alias in settings.CACHES.values():
        if alias.get("LOCATION") == BASE_REDIS_URL:
            alias["LOCATION"] = redis_url
    if os.environ.get("CELERY_BROKER_URL"):
        broker = redis_url_for_worker(os.environ["CELERY_BROKER_URL"], index)
        os.environ["CELERY_BROKER_URL"] = broker
        settings.CELERY_BROKER_URL = broker
    elif settings.CELERY_BROKER_URL == BASE_REDIS_URL:
        settings.CELERY_BROKER_URL = redis_url
    from alliance.celery import app

    app.conf.broker_url = settings.CELERY_BROKER_URL
    # The controller made TEST_MEDIA_ROOT (alliance/settings/test.py) and the
    # workers inherited it: each gets a folder of its own inside.
    media = Path(os.environ["TEST_MEDIA_ROOT"]) / os.environ["PYTEST_XDIST_WORKER"]
    media.mkdir(parents=True, exist_ok=True)
    os.environ["TEST_MEDIA_ROOT"] = str(media)
    settings.MEDIA_ROOT = str(media)
