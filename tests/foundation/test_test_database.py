"""The test databases commit without waiting for the WAL flush (conftest.py sets
PGOPTIONS), in this process and in the processes a test starts; nothing else about
a commit changes: it is visible to every other connection at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_this_process_commits_without_waiting_for_the_flush(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("off",)


def test_a_process_a_test_starts_does_the_same(db):
    params = connection.settings_dict
    code = (
        "import psycopg, sys; "
        "c = psycopg.connect(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], "
        "password=sys.argv[4] or None, dbname=sys.argv[5]); "
        "print(c.execute('SHOW synchronous_commit').fetchone()[0])"
    )
    args = [
        params.get("HOST") or "127.0.0.1",
        str(params.get("PORT") or 5432),
        params.get("USER") or "postgres",
        params.get("PASSWORD") or "",
        params["NAME"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "off"


@pytest.mark.django_db(transaction=True)
def test_a_commit_is_seen_by_another_connection_at_once():
    from django.contrib.auth.models import Group

    Group.objects.create(name="committed")
    seen = []

    def other_connection():
        seen.append(Group.objects.filter(name="committed").exists())
        connection.close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    thread.join()
    assert seen == [True]
