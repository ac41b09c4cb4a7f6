"""Run by tests/integration/test_read_replica.py only (not collected on its own: it
needs DATABASE_URL on a primary and DATABASE_REPLICA_URL on its streaming replica,
which that test makes). The tests run in this order; the last one stops the replica.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alliance import db_router
from alliance.metrics import PortalCollector
from bookings.models import Booking
from courses.tests.factories import CourseFactory, make_session
from members.models import AuditLog, MemberUnit
from members.tests.factories import GuardianFactory
from reports import tasks
from reports.models import ReportJob
from reports.services import participation_rollup
from reports.tests.conftest import dataset, people  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def _primary_lsn() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        return cursor.fetchone()[0]


def wait_replayed(timeout: float = 30.0) -> float:
    """Seconds until the replica has replayed everything the primary has written."""
    target = _primary_lsn()
    start = time.monotonic()
    with connections["replica"].cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", [target])
            if cursor.fetchone()[0]:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"the replica did not replay {target} in {timeout}s")
            time.sleep(0.005)


def replay(pause: bool) -> None:
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()" if pause else "SELECT pg_wal_replay_resume()")


def _tables(queries) -> str:
    return " ".join(q["sql"] for q in queries)


# What a replica page still reads on the primary: the session and the signed-in user
# (before the view), and the export jobs (REPLICA_PRIMARY_MODELS).
PRIMARY_ONLY = {"django_session", "members_user", "usersessions_usersession", "reports_reportjob"}


def _tables_read(queries) -> set[str]:
    return {name for q in queries for name in re.findall(r'FROM "(\w+)"', q["sql"])}


class QueriesOn:
    """Like CaptureQueriesContext, without connecting (the server may be down)."""

    def __init__(self, alias: str) -> None:
        self.connection = connections[alias]

    def __enter__(self):
        self.connection.force_debug_cursor = True
        self.start = len(self.connection.queries_log)
        return self

    def __exit__(self, *exc):
        self.connection.force_debug_cursor = False
        self.captured_queries = list(self.connection.queries_log)[self.start :]


def replica_gauges() -> dict[str, float]:
    return {
        family.name: family.samples[0].value
        for family in PortalCollector()._replica()
        if family.samples
    }


@pytest.fixture(autouse=True)
def commits_flushed_at_once():
    """As in production: the test run turns synchronous_commit off for speed
    (conftest.py), and an unflushed commit is sent to the replica only when the
    WAL writer writes it (every 200 ms), which would be the lag measured."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SET synchronous_commit = on")


@pytest.fixture
def rolled_up(dataset, people):  # noqa: F811
    participation_rollup(term=dataset.term, now=dataset.now)
    wait_replayed()
    return dataset


def dashboard(client: Client):
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        QueriesOn("replica") as replica,
    ):
        response = client.get(reverse("reports:overview"))
    assert response.status_code == 200
    return response.content.decode(), primary, replica


def test_the_dashboard_is_served_from_the_replica(rolled_up, people):  # noqa: F811
    client = Client()
    client.force_login(people.alliance)  # the session is written on the primary now

    page, primary, replica = dashboard(client)

    # the figures come from the replica; the primary reads only the session and user
    assert "第一小学" in page
    assert len(replica.captured_queries) > 0
    assert "reports_participationsnapshot" in _tables(replica.captured_queries)
    assert PRIMARY_ONLY.issuperset(_tables_read(primary.captured_queries)), _tables(
        primary.captured_queries
    )

    # While the replica's replay is paused a change on the primary is not shown yet;
    # once replayed, it is: the page really is the replica's.
    replay(pause=True)
    try:
        MemberUnit.objects.filter(pk=rolled_up.u1.pk).update(name="第一实验小学")
        assert "第一实验小学" not in dashboard(client)[0]
        # /metrics says so: the replica is up and behind
        gauges = replica_gauges()
        assert gauges["alliance_db_replica_up"] == 1
        assert gauges["alliance_db_replica_lag_bytes"] > 0
        assert gauges["alliance_db_replica_lag_seconds"] >= 0
    finally:
        replay(pause=False)
    lag = wait_replayed()
    assert "第一实验小学" in dashboard(client)[0]

    # the replay lag a coordinator may see after one change, measured 20 times
    lags = []
    for n in range(20):
        MemberUnit.objects.filter(pk=rolled_up.u3.pk).update(name=f"第三中学{n}")
        lags.append(wait_replayed())
    print("\nreplay lags (ms):", [round(x * 1000, 1) for x in lags])
    lags.sort()
    print(
        f"\nreplay lag: after the pause {lag * 1000:.1f} ms; single change median "
        f"{lags[10] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms"
    )


def _booking_world():
    course = CourseFactory()
    session = make_session(course, capacity=5)
    guardian = GuardianFactory()
    client = Client()
    client.force_login(guardian.user)
    return session, guardian, client


def _book(client, session, guardian):
    return client.post(reverse("courses:book", args=[session.pk]), {"guardian": guardian.pk})


def test_a_booking_never_touches_the_replica():
    session, guardian, client = _booking_world()

    with CaptureQueriesContext(connections["replica"]) as replica:
        course_page = client.get(reverse("courses:detail", args=[session.course_id]))
        response = _book(client, session, guardian)

    assert course_page.status_code == 200
    assert response.status_code == 302
    assert replica.captured_queries == []
    assert Booking.objects.using("default").filter(family=guardian.family).count() == 1


def test_an_export_task_finds_its_job_on_the_primary_and_reads_from_the_replica(
    rolled_up,
    people,  # noqa: F811
):
    replay(pause=True)  # the job row below is not on the replica
    try:
        job = ReportJob.objects.create(
            kind=ReportJob.Kind.EXPORT_CSV, term=rolled_up.term, requested_by=people.alliance
        )
        with (
            CaptureQueriesContext(connections["default"]) as primary,
            CaptureQueriesContext(connections["replica"]) as replica,
        ):
            tasks.export_job_run.apply(args=[job.pk])
    finally:
        replay(pause=False)

    job.refresh_from_db()
    assert job.status == ReportJob.Status.DONE, job.error
    assert job.rows_total > 0
    assert "reports_reportjob" in _tables(primary.captured_queries)
    assert "reports_reportjob" not in _tables(replica.captured_queries)
    assert "bookings_booking" in _tables(replica.captured_queries)


def test_a_streamed_csv_export_is_read_from_the_replica_and_audited_on_the_primary(
    rolled_up,
    people,  # noqa: F811
):
    client = Client()
    client.force_login(people.u1)
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        response = client.post(
            reverse("reports:export"), {"term": rolled_up.term.code, "format": "csv"}
        )
        body = b"".join(response.streaming_content).decode("utf-8-sig")

    assert response.status_code == 200
    assert "第一小学" in body
    # the rows are read while the body streams, after the view returned: from the replica
    assert "bookings_booking" in _tables(replica.captured_queries)
    assert "bookings_booking" not in _tables(primary.captured_queries)
    assert "INSERT" in _tables(primary.captured_queries)  # the audit entry
    assert "INSERT" not in _tables(replica.captured_queries)
    assert AuditLog.objects.using("default").filter(action="reports.export.csv").count() == 1


def _replica_server(action: str) -> None:
    command = [
        os.environ["REPLICA_TEST_PG_CTL"],
        "-D",
        os.environ["REPLICA_TEST_DATA"],
        "-w",
        action,
    ]
    if action == "start":
        command += [
            "-l",
            os.environ["REPLICA_TEST_DATA"] + ".log",
            "-o",
            f"-p {os.environ['REPLICA_TEST_PORT']} -k {os.environ['REPLICA_TEST_SOCKETS']} "
            "-c listen_addresses=127.0.0.1",
        ]
    else:
        command += ["-m", "fast"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, timeout=120, capture_output=True)


def test_with_the_replica_stopped_bookings_work_and_dashboards_read_the_primary(
    rolled_up,
    people,  # noqa: F811
    caplog,
):
    session, guardian, parent = _booking_world()
    coordinator = Client()
    coordinator.force_login(people.alliance)
    connections["replica"].close()
    _replica_server("stop")
    try:
        caplog.set_level(logging.WARNING)
        response = _book(parent, session, guardian)
        page, primary, replica = dashboard(coordinator)
        gauges = replica_gauges()
    finally:
        _replica_server("start")

    assert response.status_code == 302
    assert Booking.objects.filter(family=guardian.family).count() == 1
    # the page is the primary's, said once in the log
    assert "第一小学" in page
    assert "reports_participationsnapshot" in _tables(primary.captured_queries)
    assert replica.captured_queries == []
    assert "replica_unavailable_reading_from_primary" in caplog.text
    assert gauges == {"alliance_db_replica_up": 0}

    # the replica is asked again after REPLICA_RETRY_SECONDS, and serves again
    time.sleep(float(os.environ.get("REPLICA_RETRY_SECONDS", "10")) + 0.2)
    wait_replayed(timeout=60)
    assert len(dashboard(coordinator)[2].captured_queries) > 0
    assert db_router.replica_configured()
