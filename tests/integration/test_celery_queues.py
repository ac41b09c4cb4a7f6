"""Celery queues by workload (alliance/settings/base.py, "queues (issue 19)").

Production pins workers to ``notify``, ``reports`` and ``default``; every task is
routed to one of them. A worker started without ``-Q`` (``make run``, the tests'
real workers) consumes all three, so nothing is left waiting in a queue nobody reads.
"""

import uuid

import pytest
from django.core.cache import cache

from alliance.celery import app
from portal.tasks import heartbeat
from tests.helpers import wait_for

QUEUES = {"notify", "reports", "default"}


def _queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_every_task_goes_to_a_queue_of_its_workload():
    app.loader.import_default_modules()
    names = [name for name in app.tasks if not name.startswith("celery.")]
    assert len(names) > 20
    assert {name: _queue_of(name) for name in names if _queue_of(name) not in QUEUES} == {}
    # the outbox and the notices it sends
    assert _queue_of("events.tasks.deliveries_send") == "notify"
    assert _queue_of("events.tasks.reminders_run_due") == "notify"
    assert _queue_of("surveys.tasks.survey_invitations") == "notify"
    # roll-ups, exports and certificates
    assert _queue_of("reports.tasks.rollup_marked") == "reports"
    assert _queue_of("reports.tasks.export_job_run") == "reports"
    assert _queue_of("certificates.tasks.batch_run") == "reports"
    assert _queue_of("certificates.tasks.certificate_render") == "reports"
    # the rest
    assert _queue_of("handbook.tasks.claims_propose") == "default"
    assert _queue_of("portal.tasks.heartbeat") == "default"


def test_a_worker_without_queue_options_consumes_every_queue():
    # the embedded default (`make run`: filesystem broker, one worker without -Q)
    # declares all three queues, like any worker
    assert {queue.name for queue in app.amqp.queues.values()} == QUEUES


@pytest.mark.celery_worker
def test_the_real_worker_runs_a_task_sent_to_each_queue(celery_worker_process):
    # given the tests' real worker (started without -Q) on Redis
    tokens = {queue: uuid.uuid4().hex for queue in sorted(QUEUES)}

    # when a task is sent to each queue
    for queue, token in tokens.items():
        heartbeat.apply_async((token,), queue=queue)

    # then each one has run in the worker
    for token in tokens.values():
        assert wait_for(lambda t=token: cache.get(f"heartbeat:{t}"), timeout=60) == "alive"
    assert celery_worker_process.poll() is None
