import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_test_stops_at_once_with_a_hint_when_services_are_down():
    # given PostgreSQL and Redis URLs where nothing listens
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/alliance",
        "REDIS_URL": "redis://127.0.0.1:2/0",
    }

    # when the guard that `make test` runs first is called
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    # then it fails, names both services and says how to start them
    assert result.returncode == 1
    assert "PostgreSQL is not reachable" in result.stderr
    assert "Redis is not reachable" in result.stderr
    assert "docker-compose up -d db redis" in result.stderr


def test_the_guard_passes_against_the_real_services():
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def _make_test_command(*variables: str) -> str:
    # `make -n` prints the recipe without running it; -o skips the prerequisites
    result = subprocess.run(
        ["make", "-n", "-o", "install", "-o", "tools", "-o", "messages", "-o", "check-services"]
        + ["test", *variables],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("PYTEST_WORKERS", "PYTEST_ARGS")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.replace("\\\n", " ").split())


def test_make_test_runs_one_xdist_worker_per_core_at_most_two_and_keeps_pytest_args():
    workers = min(len(os.sched_getaffinity(0)), 2)  # nproc counts the same CPUs
    command = _make_test_command("PYTEST_ARGS=-k booking")
    assert f".venv/bin/pytest -n {workers} --dist worksteal -k booking" in command
    assert "DJANGO_SETTINGS_MODULE=alliance.settings.test" in command
    # and one process when asked
    assert ".venv/bin/pytest -n 0 --dist worksteal" in _make_test_command("PYTEST_WORKERS=0")
