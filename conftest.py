"""Fixtures shared by the whole suite: real services, a real Celery worker,
a real SMTP server, and Debian's Chromium for Playwright.

`make test` runs the suite in parallel (pytest-xdist, docs/TESTING.md). Each
xdist worker is a world of its own: pytest-django gives it its own test database
(``test_<name>_gw0``, ``_gw1``), and ``isolate_xdist_worker()`` below gives it its
own Redis database (cache and Celery broker: ``cache.clear()`` and the worker
fixture's FLUSHDB touch no other worker) and its own media folder, before any
test runs (tests/xdist_isolation.py). Every server a test starts listens on a free port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from celery._state import _set_task_join_will_block
from django.core.cache import cache

from tests.xdist_isolation import isolate_xdist_worker

PROJECT_ROOT = Path(__file__).resolve().parent

# With CI set, a skipped or xfailed test fails the run (tests/no_skips.py).
pytest_plugins = ["tests.no_skips"]

# Each xdist worker: its own Redis database and media folder (tests/xdist_isolation.py).
isolate_xdist_worker()

# The test databases commit without waiting for the WAL flush (libpq reads PGOPTIONS,
# so the Celery workers and servers a test starts do the same). A commit is as visible,
# as locked and as ordered as with a flush; only a crash of PostgreSQL itself could
# lose the last ones, and no test crashes it. It saves 4-6 ms a commit, which the
# worker, race and live-server tests do by the thousand.
os.environ["PGOPTIONS"] = " ".join(
    filter(None, [os.environ.get("PGOPTIONS", ""), "-c synchronous_commit=off"])
)


def _flush_by_delete() -> None:
    """Transactional tests (workers, races, live servers) end with Django's flush,
    which on PostgreSQL is one TRUNCATE of every table: about 1.3 s for this
    schema's 70-odd tables (a new file per table and index), paid by some 160
    tests. A DELETE of each table in one transaction does the same to these few
    rows in well under 0.1 s. Django's foreign keys are DEFERRABLE INITIALLY
    DEFERRED, so the order does not matter; a flush that resets sequences keeps
    Django's TRUNCATE. Test runs only."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return ["SET CONSTRAINTS ALL DEFERRED;"] + [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ]

    DatabaseOperations.sql_flush = sql_flush


_flush_by_delete()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters and cached pages live in Redis; each test starts clean.
    cache.clear()
    # Celery's eager apply_async sets a process-wide "a join would block" flag and
    # restores what it found; two threads running eager tasks at once (race and
    # live-server tests: a check-in queues the handbook's proposal task) can leave
    # it set, and every later .get() in that xdist worker fails. Each test starts
    # with it cleared, as a new process would.
    _set_task_join_will_block(False)
    yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def phone_page(browser):
    """A page at a phone's size (375×812), in Chinese, in Shanghai time."""
    from tests.phone import PHONE

    context = browser.new_context(**PHONE)
    page = context.new_page()
    yield page
    context.close()


def _test_database_url() -> str:
    from django.db import connection

    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real `celery worker` process on the real Redis broker and the test database.

    The test process stops running tasks eagerly, so ``.delay()`` really goes
    through Redis. Yields the Popen, so a test can kill it; a killed worker can
    be restarted with ``start_worker()``.
    """
    from alliance.celery import app

    redis_url = os.environ["REDIS_URL"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alliance.settings.test",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    # Purge leftovers of earlier runs so this worker sees only this test's tasks.
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()

    processes: list[subprocess.Popen] = []

    def start_worker(extra_args: tuple[str, ...] = ()) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "alliance",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=2",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *extra_args,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            # Its own process group: the test's end stops the worker and its pool at once.
            start_new_session=True,
        )
        processes.append(process)
        return process

    process = start_worker()
    process.start_worker = start_worker
    try:
        yield process
    finally:
        # The test has asserted what it needed: no warm shutdown (3 s or more a
        # worker), the whole group is killed before the tables are flushed.
        for proc in processes:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=15)
        app.conf.task_always_eager = True


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free local port; messages land in ``.messages``."""
    from tests.fakes import smtp_server as started_smtp_server

    with started_smtp_server() as controller:
        yield controller


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """No phone number in any log line of the run (issue 19): the JSON logs every
    process of this run wrote (settings.TEST_LOG_DIR, alliance/logging.py)."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller reads every process's file
    from alliance.logging import check_test_logs

    check_test_logs(session)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # A failed test's "Captured log" section is redacted like the logs (alliance/logging.py).
    from alliance.logging import redact_pytest_reports

    redact_pytest_reports(config)
