"""The whole test suite, as `make test` runs it, timed against issue 12's ten minutes."""

from __future__ import annotations

import os
import re
import subprocess
import time

from bench.harness import ROOT, goal, record

GOAL_SUITE = "make test ≤ 10 minutes on this machine, nothing skipped"
LIMIT_SECONDS = 600


def bench_suite() -> None:
    # The developer's own environment, not the bench's: the suite makes its own test
    # databases from DATABASE_URL and sets its own settings module; CI=true makes a
    # skipped test fail the run, as in CI.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["CI"] = "true"
    started = time.perf_counter()
    process = subprocess.run(["make", "test"], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    summary = next(
        (line.strip("= ") for line in reversed(process.stdout.splitlines()) if " in " in line),
        "no summary",
    )
    workers = re.search(r"created: (\d+)/\d+ workers", process.stdout)
    passed = process.returncode == 0 and "skipped" not in summary
    record(
        "test suite",
        f"make test, whole suite ({summary}; "
        f"{workers.group(1) if workers else '1'} pytest-xdist workers, {os.cpu_count()} cores)",
        f"{elapsed / 60:.1f} min ({elapsed:.0f} s), exit status {process.returncode}",
        "CI=true make test",
    )
    goal(
        GOAL_SUITE,
        passed and elapsed <= LIMIT_SECONDS,
        f"{elapsed:.0f} s of {LIMIT_SECONDS} s, {summary}",
    )
