"""What every benchmark step shares: the database, the environment, the records and goals."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
        # A fresh container has no package lists yet: update them once if needed.
        if subprocess.run(install, env=apt_env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=apt_env, capture_output=True)
            subprocess.run(install, env=apt_env, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "wrk is not installed and could not be installed here: "
        "run `apt-get install wrk` (Debian) and `make bench` again, or use "
        "bench.harness.throughput(), which falls back to bench/load.py."
    )


# --- gunicorn and the load generator ------------------------------------------------------

GUNICORN = str(Path(PYTHON).parent / "gunicorn")


class Gunicorn:
    """A running gunicorn: its master's pid, its URL, and its workers' pids."""

    def __init__(self, process: subprocess.Popen, port: int, command: list[str]):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.command = " ".join(
            Path(command[0]).name if i == 0 else a for i, a in enumerate(command)
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), from /proc."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mb(pid: int) -> float:
    """A process's resident set size (VmRSS) in MB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


@contextmanager
def gunicorn(
    port: int,
    workers: int = 2,
    worker_class: str = "sync",
    threads: int = 1,
    env_overrides: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    ready_path: str = "/bench/bare/",
) -> Iterator[Gunicorn]:
    """Start gunicorn on the bench settings, wait until it answers, stop it afterwards.

    ``with gunicorn(8750, workers=2, worker_class="gthread", threads=16) as server:``
    then ``server.url``, ``server.worker_pids()``. A server that does not answer
    within 60 s (or exits) raises BenchError with the end of its log.
    """
    import urllib.error
    import urllib.request

    command = [
        GUNICORN,
        "alliance.wsgi:application",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "-k",
        worker_class,
        "--threads",
        str(threads),
        "--log-level",
        "warning",
        *extra_args,
    ]
    log = tempfile.NamedTemporaryFile(mode="w+", suffix=".gunicorn.log")
    process = subprocess.Popen(
        command, cwd=ROOT, env={**ENV, **(env_overrides or {})}, stdout=log, stderr=log
    )
    server = Gunicorn(process, port, command)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise BenchError(f"gunicorn exited ({process.returncode}): {log.read()[-1500:]}")
            try:
                urllib.request.urlopen(f"{server.url}{ready_path}", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers (a redirect or an error page is an answer)
            except OSError:
                if time.monotonic() > deadline:
                    log.seek(0)
                    raise BenchError(
                        f"gunicorn on port {port} did not answer in 60 s: {log.read()[-1500:]}"
                    ) from None
                time.sleep(0.2)
        # Every worker answered at least once only if there is one; wait for all to boot.
        while len(server.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def load_tool() -> str:
    """ "wrk" when it is here or can be installed, else "python" (bench/load.py).

    BENCH_LOAD=python forces the fallback (to check it); BENCH_LOAD=wrk insists on wrk.
    """
    wanted = os.environ.get("BENCH_LOAD", "")
    if wanted == "python":
        return "python"
    try:
        require_wrk()
        return "wrk"
    except BenchError:
        if wanted == "wrk":
            raise
        message = "wrk could not be found or installed: HTTP throughput measured with bench/load.py"
        if message not in notes:
            notes.append(message)
        return "python"


@dataclass
class Throughput:
    rps: float
    non_2xx: int
    tool: str
    command: str
    p95_ms: float = float("nan")


def throughput(
    url: str,
    seconds: int = WRK_SECONDS,
    connections: int = 4,
    lua: str | None = None,
    paths=None,
) -> Throughput:
    """Requests/s for GETs of ``url``: wrk when it can be had, else bench/load.py.

    ``lua`` is a wrk script (a different URL per request); ``paths`` is the same for
    the Python client: a function of the request's index giving the path. Give both
    when the URLs vary, so that either tool measures the same thing.
    """
    import re
    from urllib.parse import urlsplit

    if load_tool() == "wrk" and (lua is not None or paths is None):
        script = f"-s {lua} " if lua else ""
        command = f"wrk -t2 -c{connections} --timeout 30s --latency -d{seconds}s {script}{url}"
        out = subprocess.run(command.split(), capture_output=True, text=True).stdout
        rps = next(
            (float(x.split()[1]) for x in out.splitlines() if x.startswith("Requests/sec")), 0.0
        )
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return Throughput(rps, int(bad.group(1)) if bad else 0, "wrk", command)
    from bench import load

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    maker = load.get_paths(
        paths if paths is not None else parts.path + (f"?{parts.query}" if parts.query else "")
    )
    result = load.run_load(base, maker, connections=connections, seconds=seconds)
    bad = sum(n for status, n in result.statuses.items() if not 200 <= status < 400)
    bad += sum(result.errors.values())
    command = f"python -m bench.load -c{connections} -d{seconds} {url}"
    return Throughput(result.rps, bad, load.TOOL, command, result.percentile(95))


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


class CeleryWorkers:
    """Real `celery worker` processes (one process each) with the bench's ENV."""

    def __init__(self, env: dict):
        self.env = env
        self.processes: list[tuple[subprocess.Popen, str, object]] = []

    def start(self, name: str) -> None:
        log = tempfile.NamedTemporaryFile(
            mode="w+", prefix=f"bench-{name}-", suffix=".log", delete=False
        )
        process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "alliance",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=1",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append((process, name, log))
        from alliance.celery import app

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited: {self.tail(log)}")
            replies = app.control.ping(timeout=1.0) or []
            if any(name in key for reply in replies for key in reply):
                return
        raise RuntimeError(f"worker {name} did not answer a ping: {self.tail(log)}")

    @staticmethod
    def tail(log) -> str:
        log.flush()
        with open(log.name, encoding="utf-8", errors="replace") as text:
            return text.read()[-1500:]

    def stop(self) -> None:
        for process, name, log in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()
            notes.append(f"the log of celery worker {name} is {log.name}")
        self.processes = []
