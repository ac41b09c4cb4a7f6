"""The read replica (issue 19, docs/OPERATIONS.md "read replica"), with real servers.

The machine's PostgreSQL accepts no replication connections (its pg_hba.conf has no
``replication`` line, and CI must not change it), so this test makes its own pair:
a primary cluster (initdb, port A) and a streaming replica of it taken with
``pg_basebackup -R`` (port B), both run as the ``postgres`` user from a temporary
folder. It then runs tests/integration/replica_scenario.py in a child pytest with
``DATABASE_URL`` on A and ``DATABASE_REPLICA_URL`` on B, exactly as a district would
configure it: a dashboard is served from the replica, a booking never touches it,
an export job finds its job row although the replica has not replayed it, a streamed
CSV export reads from the replica and audits on the primary, and with the replica
stopped bookings still work and the dashboard falls back to the primary. The child's
output (kept on failure, or with -s) gives the replay lag measured.
Both servers are stopped and their folders removed, whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("replica_scenario.py")


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*command) -> list[str]:
    # The servers refuse to run as root; here (and in CI) the tests run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *map(str, command)]
    return list(map(str, command))


def _run(*command, timeout: float = 120) -> None:
    subprocess.run(_as_postgres(*command), check=True, timeout=timeout, capture_output=True)


class ReplicaPair:
    """A primary and its streaming replica in one temporary folder."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="alliance-replica-"))
        self.primary_dir = self.root / "primary"
        self.replica_dir = self.root / "replica"
        self.sockets = self.root / "sockets"
        self.primary_port = _free_port()
        self.replica_port = _free_port()
        self.started: list[Path] = []

    def pg_ctl(self, data: Path, action: str, port: int | None = None) -> None:
        command = [self.bin / "pg_ctl", "-D", data, "-w", "-t", "60", action]
        if action in ("start", "restart"):
            command += ["-l", data.parent / f"{data.name}.log"]
            command += ["-o", f"-p {port} -k {self.sockets} -c listen_addresses=127.0.0.1"]
        if action == "stop":
            command += ["-m", "fast"]
        _run(*command)

    def start(self) -> None:
        self.sockets.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
        _run(
            self.bin / "initdb",
            "-D",
            self.primary_dir,
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            # replica is the default wal_level; said here as what the pair relies on
            conf.write("wal_level = replica\nmax_wal_senders = 4\nfsync = off\n")
        with open(self.primary_dir / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self.pg_ctl(self.primary_dir, "start", self.primary_port)
        self.started.append(self.primary_dir)
        # -R writes standby.signal and primary_conninfo; -X stream copies the WAL
        # made during the copy.
        _run(
            self.bin / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            self.primary_port,
            "-U",
            "postgres",
            "-D",
            self.replica_dir,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        self.pg_ctl(self.replica_dir, "start", self.replica_port)
        self.started.append(self.replica_dir)

    def stop(self) -> None:
        for data in reversed(self.started):
            if (data / "postmaster.pid").exists():
                try:
                    self.pg_ctl(data, "stop")
                except subprocess.SubprocessError:
                    _run(self.bin / "pg_ctl", "-D", data, "stop", "-m", "immediate")
        self.started = []

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def running(self) -> list[Path]:
        return [d for d in (self.primary_dir, self.replica_dir) if (d / "postmaster.pid").exists()]


@pytest.fixture
def replica_pair():
    pair = ReplicaPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        assert pair.running() == [], "a test server is still running"
        pair.remove()


def test_dashboards_read_from_the_replica_and_bookings_never_do(replica_pair):
    pair = replica_pair
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alliance.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pair.primary_port}/alliance",
        "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{pair.replica_port}/alliance",
        # the scenario stops and starts the replica itself
        "REPLICA_TEST_PG_CTL": str(pair.bin / "pg_ctl"),
        "REPLICA_TEST_DATA": str(pair.replica_dir),
        "REPLICA_TEST_PORT": str(pair.replica_port),
        "REPLICA_TEST_SOCKETS": str(pair.sockets),
        "REPLICA_RETRY_SECONDS": "1",
    }
    if os.environ.get("TEST_LOG_DIR"):
        # The child checks its own logs for phone numbers (root conftest.py), not
        # the lines other xdist workers of this run are writing.
        env["TEST_LOG_DIR"] = os.path.join(os.environ["TEST_LOG_DIR"], "replica-child")
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_TESTRUNUID", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-q",
            "-s",
            "--create-db",
            str(SCENARIO),
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(result.stdout[-6000:], result.stderr[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert re.search(r"\b5 passed", result.stdout), result.stdout[-3000:]
    assert "replay lag" in result.stdout
