import uuid

import pytest
from django.core.cache import cache

from portal.tasks import heartbeat
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker


def test_a_real_worker_runs_a_task_sent_through_redis(celery_worker_process):
    # given a worker process consuming from the real Redis broker
    token = uuid.uuid4().hex

    # when the task is queued, not run eagerly
    heartbeat.delay(token)

    # then the worker, not this process, has run it
    assert wait_for(lambda: cache.get(f"heartbeat:{token}"), timeout=60) == "alive"
    assert celery_worker_process.poll() is None
