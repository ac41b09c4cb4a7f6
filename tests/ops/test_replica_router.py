"""The read replica's routing rules, without a replica server (the real one is in
tests/integration/test_read_replica.py)."""

from django.conf import settings
from django.urls import URLResolver, get_resolver

from alliance import db_router
from alliance.celery import app
from alliance.db_router import ReplicaRouter
from bookings.models import Booking
from members.models import MemberUnit
from reports.models import ReportJob


def _url_names(resolver=None, namespace=None) -> set[str]:
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            names |= _url_names(pattern, inner)
        elif pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_reads_go_to_the_replica_only_inside_the_block_and_writes_never():
    router = ReplicaRouter()
    assert router.db_for_read(MemberUnit) == "default"
    token = db_router._on_replica.set(True)
    try:
        assert router.db_for_read(MemberUnit) == "replica"
        assert router.db_for_read(Booking) == "replica"
        # a job row a task was queued for may not have reached the replica
        assert router.db_for_read(ReportJob) == "default"
        assert router.db_for_write(Booking) == "default"
    finally:
        db_router._on_replica.reset(token)
    assert router.db_for_read(MemberUnit) == "default"
    assert router.allow_migrate("default", "bookings")
    assert not router.allow_migrate("replica", "bookings")


def test_without_a_replica_the_block_reads_from_the_primary():
    assert not db_router.replica_configured()
    with db_router.reading_from_replica() as used:
        assert used is False
        assert not db_router.on_replica()


def test_the_listed_pages_and_tasks_exist():
    names = _url_names()
    for name in [*settings.REPLICA_READ_VIEWS, *settings.REPLICA_READ_EXPORT_VIEWS]:
        assert name in names, name
    app.loader.import_default_modules()
    for name in settings.REPLICA_READ_TASKS:
        assert name in app.tasks, name
    # never a booking, check-in or roll-up
    listed = " ".join(
        [
            *settings.REPLICA_READ_VIEWS,
            *settings.REPLICA_READ_EXPORT_VIEWS,
            *settings.REPLICA_READ_TASKS,
        ]
    )
    assert "book" not in listed and "checkin" not in listed and "rollup" not in listed
