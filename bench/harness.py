"""What every benchmark step shares: the database, the environment, the records and goals."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PRESET = os.environ.get("BENCH_PRESET", "district-large")
SEED = int(os.environ.get("BENCH_SEED", "1"))
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "10"))


def _bench_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alliance"))
    return urlunparse(base._replace(path="/alliance_bench"))


BENCH_URL = _bench_url()
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
ENV = {
    **os.environ,
    "DATABASE_URL": BENCH_URL,
    "REDIS_URL": REDIS_URL,
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "PYTHONPATH": str(ROOT),
}
results: list[dict] = []  # {section, figure, value, command}
notes: list[str] = []  # what the run itself noticed, printed under the goals


@dataclass
class Goal:
    """One goal of the issue, met or missed, with the measured value that decided it."""

    label: str
    met: bool
    detail: str


goals: list[Goal] = []


def goal(label: str, met: bool, detail: str) -> None:
    goals.append(Goal(label, met, detail))
    print(f"[goal] {label}: {'met' if met else 'MISSED'} ({detail})", flush=True)


def record(section: str, figure: str, value: str, command: str) -> None:
    results.append({"section": section, "figure": figure, "value": value, "command": command})
    print(f"[{section}] {figure}: {value}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, text=True, **kwargs)


def timed_child(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command; return wall seconds, its peak RSS in MB, and its stdout.

    The peak RSS comes from GNU time (``/usr/bin/time -f %M``): the rusage of a
    child forked from this (large) Python process would count the parent's pages.
    """
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss:
        wrapped = ["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *cmd]
        if not Path("/usr/bin/time").exists():
            wrapped = cmd
        started = time.perf_counter()
        process = subprocess.run(wrapped, cwd=ROOT, env=ENV, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {process.stderr[-2000:]}")
        text = Path(rss.name).read_text().strip().splitlines()
        peak_mb = int(text[-1]) / 1024 if text and text[-1].isdigit() else float("nan")
        return elapsed, peak_mb, process.stdout


class BenchError(RuntimeError):
    """A goal cannot be measured on this machine; the message says what to do."""


def require_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing and we may."""
    import shutil

    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
        )
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "wrk is not installed and could not be installed here: "
        "run `apt-get install wrk` (Debian) and `make bench` again."
    )


MONTH = dt.timedelta(days=30)


def fresh_offering(capacity: int, title: str, starts_in: dt.timedelta = MONTH):
    from django.utils import timezone

    from bookings.models import Offering
    from bookings.services import offering_create
    from members.models import MemberUnit

    # Through the bookings service like every other writer of an offering.
    starts = timezone.now() + starts_in
    return offering_create(
        kind=Offering.Kind.EVENT,
        title=title,
        unit=MemberUnit.objects.order_by("pk").first(),
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=capacity,
    )
