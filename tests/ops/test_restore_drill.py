"""The restore drill (docs/OPERATIONS.md, "Backups and restore"), as a test.

The demo term is loaded into the test database (committed: a transactional
test, so pg_dump sees it), ``scripts/backup.sh`` dumps it and copies the media
as the nightly cron line does, ``scripts/restore.sh`` restores the dump into a
new database with ``pg_restore`` and checks its migrations, every table of the
public schema has the same number of rows in both databases (and every
sequence the same position), and a real gunicorn started on the restored copy
serves the catalogue and a course page. The original is changed before the
restored copy is read, so the page can only have come from the copy.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils.html import escape

from bookings.models import Booking
from courses.models import Course
from tests.fakes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
BACKUP = PROJECT / "scripts" / "backup.sh"
RESTORE = PROJECT / "scripts" / "restore.sh"
# A password the server (trust on loopback here) ignores: it must never be printed.
PASSWORD = "s3cret-Backup-pw"
MAIN_TABLES = (
    "members_user",
    "members_guardian",
    "members_family",
    "parent_school_parentschool",
    "courses_course",
    "courses_coursesession",
    "courses_creditentry",
    "bookings_offering",
    "bookings_booking",
    "events_event",
    "events_delivery",
    "notifications_notification",
    "handbook_claim",
    "reports_participationsnapshot",
    "django_migrations",
)


def _database_url(name: str, password: str = "") -> str:
    params = connection.settings_dict
    secret = f":{password}" if password else ""
    if not secret and params.get("PASSWORD"):
        secret = f":{params['PASSWORD']}"
    return (
        f"postgres://{params.get('USER') or 'postgres'}{secret}@"
        f"{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}/{name}"
    )


def _connect(name: str) -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(
        dbname=name,
        user=params.get("USER") or "postgres",
        password=params.get("PASSWORD") or None,
        host=params.get("HOST") or "127.0.0.1",
        port=params.get("PORT") or 5432,
        autocommit=True,
    )


def _drop(name: str) -> None:
    with _connect("postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _census(db: psycopg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Rows of every table of the public schema, and every sequence's last value."""
    tables = [
        row[0]
        for row in db.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
        )
    ]
    counts = {t: db.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0] for t in tables}
    sequences = dict(
        db.execute(
            "SELECT sequencename, coalesce(last_value, 0) FROM pg_sequences"
            " WHERE schemaname = 'public'"
        ).fetchall()
    )
    return counts, sequences


def _run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alliance.settings.test",
        "PYTHON": sys.executable,
        "BACKUP_DIR": str(tmp_path / "backups"),
        **extra,
    }


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        return answer.read().decode()


def _gunicorn(database_url: str):
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "alliance.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "alliance.settings.test",
            "DATABASE_URL": database_url,
        },
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "gunicorn exited"
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return process, url
        except urllib.error.HTTPError:
            return process, url
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            time.sleep(0.2)


def test_the_nightly_backup_restores_into_a_new_database_that_serves_the_portal(tmp_path):
    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored"[:63]
    _drop(restored)
    # given the demo term (real data through the portal's services) and an uploaded file
    call_command("load_demo", stdout=io.StringIO())
    media = Path(settings.MEDIA_ROOT)
    (media / "drill").mkdir(parents=True, exist_ok=True)
    (media / "drill" / "lesson.txt").write_text("课程讲义", encoding="utf-8")
    # and older backups: three dailies, of which BACKUP_KEEP_DAILY=2 keeps the newest one
    daily = tmp_path / "backups" / "db" / "daily"
    daily.mkdir(parents=True)
    old = [daily / f"{source}-2026010{day}T183000Z.dump" for day in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"old")
    env = _script_env(
        tmp_path,
        DATABASE_URL=_database_url(source, PASSWORD),
        MEDIA_ROOT=str(media),
        BACKUP_KEEP_DAILY="2",
        BACKUP_WEEKLY_DAY=str(datetime.now(UTC).isoweekday()),
    )

    # when the nightly backup runs
    backup = _run(BACKUP, env=env)

    # then it wrote a checked dump with its row counts and a media snapshot, kept the newest 2 dailies,
    # made today's weekly copy, and printed no password
    assert backup.returncode == 0, backup.stderr
    assert PASSWORD not in backup.stdout + backup.stderr
    dumps = sorted(daily.glob("*.dump"))
    dump = Path(next(line for line in backup.stdout.splitlines() if line.startswith("dump: "))[6:])
    assert dumps == [old[2], dump]
    assert (daily / f"{dump.name}.sha256").exists()
    counted = dict(
        line.split("\t") for line in (daily / f"{dump.name}.counts").read_text().splitlines()
    )
    assert int(counted["bookings_booking"]) == Booking.objects.count() > 0
    assert (tmp_path / "backups" / "db" / "weekly" / dump.name).exists()
    snapshot = tmp_path / "backups" / "media" / "latest"
    assert (snapshot / "drill" / "lesson.txt").read_text(encoding="utf-8") == "课程讲义"

    course = Course.objects.filter(is_published=True).order_by("pk").first()

    # when the dump is restored into a new database
    try:
        restore = _run(RESTORE, str(dump), restored, env=env)
        assert restore.returncode == 0, restore.stderr
        assert PASSWORD not in restore.stdout + restore.stderr
        assert f"restored: {restored}" in restore.stdout
        assert "every table has the rows counted at the backup" in restore.stderr
        assert "migrations: none pending" in restore.stderr

        # then every table has the same rows in both, the main ones some, sequences agree
        with _connect(source) as original, _connect(restored) as copy:
            original_counts, original_sequences = _census(original)
            copy_counts, copy_sequences = _census(copy)
        assert copy_counts == original_counts
        assert len(copy_counts) > 100
        assert all(copy_counts[table] > 0 for table in MAIN_TABLES), {
            t: copy_counts[t] for t in MAIN_TABLES
        }
        assert copy_sequences == original_sequences

        # and restoring into an existing database is refused, leaving it untouched
        again = _run(RESTORE, str(dump), restored, env=env)
        assert again.returncode != 0 and "already exists" in again.stderr

        # when the original is changed, and a web node is started on the restored copy
        Course.objects.filter(pk=course.pk).update(title="备份之后改的名字")
        process, url = _gunicorn(_database_url(restored))
        try:
            catalogue = _get(f"{url}/courses/")
            page = _get(f"{url}/courses/{course.pk}/")
        finally:
            process.terminate()
            process.wait(timeout=15)
        # then the pages show the data as it was backed up
        assert escape(course.title) in catalogue and escape(course.title) in page
        assert "备份之后改的名字" not in catalogue + page
    finally:
        _drop(restored)


def test_a_failed_backup_exits_non_zero_and_leaves_nothing_behind(tmp_path):
    # given yesterday's good dump
    daily = tmp_path / "backups" / "db" / "daily"
    daily.mkdir(parents=True)
    kept = daily / "alliance_missing_db-20260101T183000Z.dump"
    kept.write_bytes(b"yesterday")
    env = _script_env(
        tmp_path, DATABASE_URL=_database_url("alliance_missing_db", PASSWORD), BACKUP_KEEP_DAILY="1"
    )

    # when the database cannot be dumped
    result = _run(BACKUP, env=env)

    # then the run fails, deletes no older backup, leaves no partial file, prints no password
    assert result.returncode != 0
    assert "FAILED" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert sorted(p.name for p in daily.iterdir()) == [kept.name]
