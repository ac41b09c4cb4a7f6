"""Under pytest-xdist (`make test`) each worker has its own test database, Redis
database (cache and Celery broker) and media folder; outside xdist the suite uses
what the environment names (tests/xdist_isolation.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from alliance.celery import app
from tests.xdist_isolation import BASE_REDIS_URL, redis_url_for_worker, worker_index


def test_worker_n_uses_the_base_redis_database_plus_n_strides():
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", 0) == "redis://127.0.0.1:6379/0"
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", 1) == "redis://127.0.0.1:6379/8"
    assert redis_url_for_worker("redis://127.0.0.1:6379/6", 1) == "redis://127.0.0.1:6379/14"
    assert redis_url_for_worker("redis://:pw@redis:6379", 1) == "redis://:pw@redis:6379/8"
    # two workers on bases 0-7 (the helpers' and CI's) never share a database
    numbers = [
        int(redis_url_for_worker(f"redis://h/{base}", worker).rsplit("/", 1)[1])
        for base in range(8)
        for worker in range(2)
    ]
    assert len(set(numbers)) == len(numbers)


def test_a_worker_past_redis_s_databases_stops_the_run_with_a_hint():
    with pytest.raises(pytest.UsageError, match="run fewer workers"):
        redis_url_for_worker("redis://127.0.0.1:6379/9", 1)


@pytest.mark.django_db
def test_this_process_uses_its_own_redis_database_media_folder_and_test_database():
    index = worker_index()
    expected = redis_url_for_worker(BASE_REDIS_URL, index or 0)
    # the cache, the Celery broker and the subprocesses a test starts all agree
    assert os.environ["REDIS_URL"] == expected
    assert settings.CACHES["default"]["LOCATION"] == expected
    assert app.conf.broker_url == expected
    client = cache._cache.get_client()
    assert client.connection_pool.connection_kwargs["db"] == int(expected.rsplit("/", 1)[1])
    with app.connection_for_write() as conn:
        assert conn.default_channel.client.connection_pool.connection_kwargs["db"] == int(
            expected.rsplit("/", 1)[1]
        )
    if index is None:
        assert not connection.settings_dict["NAME"].endswith("_gw0")
    else:
        worker = os.environ["PYTEST_XDIST_WORKER"]
        assert connection.settings_dict["NAME"].endswith(f"_{worker}")
        assert Path(settings.MEDIA_ROOT).name == worker
        assert os.environ["TEST_MEDIA_ROOT"] == settings.MEDIA_ROOT
