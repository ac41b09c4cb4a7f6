"""Scale-out drill: two gunicorn web nodes behind nginx, one killed under load.

What docker-compose's production profile runs, started directly on loopback: two
gunicorn nodes (production settings, one SECRET_KEY) on the same PostgreSQL and
Redis, Debian's nginx with deploy/nginx/production.conf.template (TLS with a
throw-away certificate) in front of both. A load of signed-in parents (real login
form, each from its own loopback address) browse the catalogue and book sessions
through the API with an Idempotency-Key, retrying a failed POST with the same key;
a kiosk token checks their tickets in. Part-way through, one node is killed with
SIGKILL (master and workers) and started again. Then:

- every booking intended was made exactly once (rows counted, no duplicates), and
  every ticket checked in once;
- the only failed requests are those in flight on the killed node when it died;
- every parent's session cookie still works, on both nodes;
- requests/s, p95 and errors are printed (docs/PERFORMANCE.md, "scale-out").

    .venv/bin/python scripts/scaleout.py --parents 40 --duration 60

creates and migrates its own database, dropped and made again each run (default
``alliance_scaleout`` on the server of DATABASE_URL, or --database-url; REDIS_URL
as given). tests/integration/test_scaleout.py calls
``drill()`` at a small size on the test database.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "production.conf.template"
PASSWORD = "scaleout-Horse-battery-9"
RETRYABLE = {502, 503, 504}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited ({process.returncode})") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port} within {timeout} s") from None
            time.sleep(0.1)


# --- the processes -----------------------------------------------------------------------


class Node:
    """One gunicorn web node (gthread workers), in its own process group."""

    def __init__(self, name: str, port: int, env: dict[str, str], workdir: Path, workers: int):
        self.name, self.port, self.env, self.workers = name, port, env, workers
        self.log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [
                gunicorn,
                "alliance.wsgi:application",
                "-b",
                f"127.0.0.1:{self.port}",
                "-k",
                "gthread",
                "-w",
                str(self.workers),
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        """Until /healthz answers on the node itself (a loaded machine boots slowly)."""
        import requests

        wait_listening(self.port, self.process, f"gunicorn {self.name}", timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{self.port}/healthz",
                    headers={"X-Forwarded-Proto": "https", "Host": "127.0.0.1"},
                    timeout=5,
                )
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn {self.name} did not answer /healthz")

    def kill(self) -> None:
        """SIGKILL to the master and its workers at once: a node that dies."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.log.close()


class Nginx:
    """Debian's nginx with the production server blocks, both nodes upstream."""

    def __init__(self, workdir: Path, nodes: list[Node], media: Path):
        self.workdir = workdir
        self.http_port, self.https_port = free_port(), free_port()
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is needed: apt-get install nginx-light (.ci/run does)")
        cert, key = workdir / "tls.crt", workdir / "tls.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
            + ["-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )
        upstreams = " ".join(
            f"server 127.0.0.1:{node.port} max_fails=1 fail_timeout=10s;" for node in nodes
        )
        server = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
            PORTAL_UPSTREAM_SERVERS=upstreams,
            PORTAL_HTTP_LISTEN=f"127.0.0.1:{self.http_port}",
            PORTAL_HTTPS_LISTEN=f"127.0.0.1:{self.https_port}",
            PORTAL_SERVER_NAME="127.0.0.1",
            PORTAL_TLS_CERTIFICATE=str(cert),
            PORTAL_TLS_CERTIFICATE_KEY=str(key),
            PORTAL_STATIC_ROOT=str(ROOT / "staticfiles"),
            PORTAL_MEDIA_ROOT=str(media),
        )
        body = server.split("\n\n", 1)[1]  # past the header comment, which names ${PORTAL_*}
        if "${PORTAL_" in body:
            raise RuntimeError("a ${PORTAL_…} of the nginx template is not filled in")
        # The drill needs to know which node answered (not for production).
        server = server.replace(
            "proxy_pass http://portal_web;",
            "proxy_pass http://portal_web;\n        add_header X-Upstream $upstream_addr always;",
        )
        (workdir / "portal.conf").write_text(server, encoding="utf-8")
        (workdir / "nginx.conf").write_text(
            f"""
worker_processes 2;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format upstream '$remote_addr "$request" $status $upstream_addr $upstream_status $request_time';
    access_log {workdir}/nginx-access.log upstream;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/portal.conf;
}}
""",
            encoding="utf-8",
        )
        self.log = open(workdir / "nginx.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        wait_listening(self.https_port, self.process, "nginx")
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.certificate = str(cert)  # the clients trust it, and check the name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.log.close()


# --- the data ----------------------------------------------------------------------------


@dataclass
class World:
    offering_ids: list[int]
    parents: list[dict]  # {"email", "guardian_id", "family_id"}
    kiosk_key: str


def world_make(parents: int, sessions: int) -> World:
    """A unit with its coordinator's kiosk token, a published course with
    ``sessions`` sessions starting in 20 minutes (booking and check-in both open),
    room for everyone, and ``parents`` families of one signed-up guardian each."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from courses.tests.factories import CourseFactory, make_session
    from members.models import RoleAssignment
    from members.services import api_token_create
    from members.tests.factories import (
        GuardianFactory,
        MemberUnitFactory,
        RoleAssignmentFactory,
    )
    from parent_school.tests.factories import ParentSchoolFactory

    run = uuid.uuid4().hex[:8]
    unit = MemberUnitFactory()
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit).user
    _token, kiosk_key = api_token_create(
        user=coordinator, name="签到平板", scopes=["checkin"], unit=unit
    )
    course = CourseFactory(
        title=f"横向扩展演练 {run}", parent_school=ParentSchoolFactory(host_unit=unit)
    )
    offering_ids = []
    for n in range(sessions):
        session = make_session(
            course,
            capacity=parents + 5,
            starts_in=__import__("datetime").timedelta(minutes=20 + n),
            venue=f"演练教室{n + 1}",
        )
        offering_ids.append(session.offering_id)
    guardians = [
        GuardianFactory(user__email=f"scaleout-{run}-{n}@example.cn", user__password="!")
        for n in range(parents)
    ]
    get_user_model().objects.filter(pk__in=[g.user_id for g in guardians]).update(
        # the nodes' hasher (production settings), whatever this process's settings say
        password=PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt()),
        phone_verified=True,  # signed up and verified earlier: sign-in goes straight in
    )
    people = [
        {"email": g.user.email, "guardian_id": g.pk, "family_id": g.family_id} for g in guardians
    ]
    return World(offering_ids=offering_ids, parents=people, kiosk_key=kiosk_key)


# --- the load ----------------------------------------------------------------------------


@dataclass
class Call:
    kind: str
    started: float
    ended: float
    status: int | None  # None: no answer (connection broken)
    node: str = ""
    error: str = ""


@dataclass
class Tally:
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    booked: dict = field(default_factory=dict)  # (family_id, offering_id) -> booking id
    tickets: queue.Queue = field(default_factory=queue.Queue)  # booking ids to check in
    checked_in: set = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    rate_limit_waits: int = 0  # 429s the kiosk waited out (Retry-After), as its app does

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


def _session(address: str, certificate: str):
    """A requests session whose connections leave from ``address`` (127.0.0.x):
    every parent has its own client address, as on the Internet, so the per-address
    limits (login, API) count each parent, not the drill."""
    import requests
    from requests.adapters import HTTPAdapter

    class SourceAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["source_address"] = (address, 0)
            return super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.certificate = certificate
    session.mount("https://", SourceAdapter(pool_connections=2, pool_maxsize=2))
    return session


def _call(tally: Tally, http, kind: str, method: str, url: str, **kwargs):
    import requests

    started = time.monotonic()
    try:
        response = http.request(
            method, url, timeout=30, allow_redirects=False, verify=http.certificate, **kwargs
        )
    except requests.RequestException as error:
        tally.add(
            Call(
                kind,
                started,
                time.monotonic(),
                None,
                error=f"{type(error).__name__}: {error}"[:300],
            )
        )
        return None
    node = response.headers.get("X-Upstream", "")
    tally.add(Call(kind, started, time.monotonic(), response.status_code, node))
    return response


def _post_json(tally, http, base, kind, path, body, headers, attempts=8):
    """A POST with one Idempotency-Key, retried with the same key while the answer
    is lost (no answer, 502/503/504): a mobile client's behaviour."""
    key = str(uuid.uuid4())
    for attempt in range(attempts):
        response = _call(
            tally,
            http,
            kind,
            "POST",
            base + path,
            json=body,
            headers={**headers, "Idempotency-Key": key},
        )
        if response is not None and response.status_code not in RETRYABLE:
            return response
        time.sleep(0.2 * (attempt + 1))
    return None


def _login(tally: Tally, http, base: str, email: str) -> str:
    """The real sign-in form; "" when signed in, else what went wrong."""
    response = _call(tally, http, "login page", "GET", f"{base}/accounts/login/")
    if response is None or response.status_code != 200:
        return f"login page: {response and response.status_code} {tally.calls[-1].error}"
    token = http.cookies.get("csrftoken")
    response = _call(
        tally,
        http,
        "login",
        "POST",
        f"{base}/accounts/login/",
        data={"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/", "Origin": base},
    )
    if response is not None and response.status_code == 302 and "sessionid" in http.cookies:
        return ""
    return f"login: {response and response.status_code} {response and response.text[:300]}"


def _parent(tally: Tally, nginx, parent: dict, address: str, offerings, stop_at, start):
    base = nginx.url
    http = _session(address, nginx.certificate)
    start.wait()
    for _ in range(5):
        failed = _login(tally, http, base, parent["email"])
        if not failed:
            break
        time.sleep(0.5)
    else:
        tally.problems.append(f"{parent['email']} could not sign in ({failed})")
        return
    parent["cookie"] = http.cookies.get("sessionid")
    parent["http"] = http
    headers = {"X-CSRFToken": http.cookies.get("csrftoken"), "Referer": base + "/", "Origin": base}
    # the bookings spread over the load (before, during and after the kill)
    begin, duration = time.monotonic(), max(stop_at - time.monotonic(), 1.0)
    todo = list(offerings)
    random.shuffle(todo)
    due = sorted((begin + random.uniform(0, duration) for _ in todo), reverse=True)
    pages = ["/courses/", "/api/v1/catalogue/courses", "/learning/", "/api/v1/learning/"]
    while todo or time.monotonic() < stop_at:
        for path in random.sample(pages, 2):
            _call(tally, http, "browse", "GET", base + path)
        if todo and time.monotonic() >= due[-1]:
            due.pop()
            offering_id = todo.pop()
            response = _post_json(
                tally,
                http,
                base,
                "book",
                "/api/v1/learning/bookings",
                {"offering_id": offering_id, "guardian_ids": [parent["guardian_id"]]},
                headers,
            )
            if response is None or response.status_code not in (200, 201):
                detail = "no answer" if response is None else response.text[:200]
                tally.problems.append(f"booking {offering_id} failed: {detail}")
            else:
                booking_id = response.json()["id"]
                with tally.lock:
                    tally.booked[(parent["family_id"], offering_id)] = booking_id
                tally.tickets.put(booking_id)
        elif not todo and time.monotonic() >= stop_at:
            break
        time.sleep(random.uniform(0.05, 0.2))


def _staff(tally: Tally, nginx, kiosk_key: str, stop: threading.Event, start, secret: str):
    """The kiosk at the door: scans each booked family's ticket once (the code
    printed on the family's ticket, signed with the nodes' secret key)."""
    from django.db import connection
    from django.test import override_settings

    from bookings.models import Booking
    from events.services import ticket_code

    base = nginx.url
    http = _session("127.0.0.250", nginx.certificate)
    headers = {"Authorization": f"Bearer {kiosk_key}"}
    start.wait()
    try:
        while not (stop.is_set() and tally.tickets.empty()):
            try:
                booking_id = tally.tickets.get(timeout=0.2)
            except queue.Empty:
                continue
            with override_settings(SECRET_KEY=secret):
                code = ticket_code(booking=Booking.objects.get(pk=booking_id))
            # One kiosk token has a per-minute budget (API_RATE_PER_TOKEN): when the
            # drill scans faster than a door does, the kiosk waits as told and scans again.
            for _attempt in range(10):
                response = _post_json(
                    tally, http, base, "check in", "/api/v1/staff/checkin", {"code": code}, headers
                )
                if response is None or response.status_code != 429:
                    break
                tally.rate_limit_waits += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
            if response is not None and response.status_code == 200:
                tally.checked_in.add(booking_id)
            else:
                detail = "no answer" if response is None else response.text[:200]
                tally.problems.append(f"check-in of {booking_id} failed: {detail}")
    finally:
        connection.close()


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20)[18]


# --- the drill ---------------------------------------------------------------------------


@dataclass
class Result:
    parents: int
    sessions: int
    duration: float
    requests: int
    requests_per_second: float
    p95_ms: float
    errors: list[Call]
    in_flight_at_kill: int
    killed_at: float
    restarted_at: float
    intended_bookings: int
    booking_rows: int
    duplicate_bookings: int
    missing_bookings: int
    checked_in: int
    sessions_still_valid: int
    nodes_answering_after: set
    problems: list[str]
    kill_window: tuple[float, float]  # monotonic: the kill sent, the node gone
    workdir: str = ""  # the nodes' and nginx's logs
    p95_by_kind: dict = field(default_factory=dict)  # ms: browse, book, check in, login
    rate_limit_waits: int = 0  # the kiosk's 429s, waited out

    def summary(self) -> str:
        errors = ", ".join(
            f"{c.kind} {c.status or c.error} on {c.node or '?'} sent "
            f"{c.started - self.kill_window[0]:+.2f}s, answered {c.ended - self.kill_window[0]:+.2f}s"
            for c in self.errors
        )
        return "\n".join(
            [
                f"parents {self.parents}, sessions {self.sessions}, load {self.duration:.0f} s",
                f"requests {self.requests}, {self.requests_per_second:.1f} requests/s, "
                f"p95 {self.p95_ms:.0f} ms ("
                + ", ".join(f"{k} {v:.0f} ms" for k, v in self.p95_by_kind.items())
                + ")",
                f"errors {len(self.errors)} ({errors or 'none'}); "
                f"requests in flight on the killed node at the kill: {self.in_flight_at_kill} "
                f"(nginx re-sent the GETs among them to the other node)",
                f"kill -9 at +{self.killed_at:.1f}s, node back at +{self.restarted_at:.1f}s",
                f"bookings intended {self.intended_bookings}, rows {self.booking_rows}, "
                f"duplicates {self.duplicate_bookings}, missing {self.missing_bookings}, "
                f"checked in {self.checked_in} (the kiosk waited out {self.rate_limit_waits} "
                f"rate-limit answers)",
                f"sessions still valid after the restart: {self.sessions_still_valid}/"
                f"{self.parents} (nodes answering: {len(self.nodes_answering_after)})",
                f"problems: {self.problems or 'none'}",
                f"logs: {self.workdir}",
            ]
        )


def node_env(database_url: str, redis_url: str, media: Path, secret: str) -> dict[str, str]:
    """What the compose file gives every web node: production settings, the same
    secret key, database, Redis and media folder on all of them."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alliance.settings.production",
        "DJANGO_SECRET_KEY": secret,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_BEHIND_PROXY": "true",
        "ALLAUTH_TRUSTED_PROXY_COUNT": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media),
        "MEDIA_ACCEL_REDIRECT_PREFIX": "/protected-media/",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }


def drill(
    *,
    database_url: str,
    redis_url: str,
    parents: int = 6,
    sessions: int = 3,
    duration: float = 20.0,
    workers: int = 2,
    secret: str | None = None,
) -> Result:
    """Run the drill on a migrated database (Django already set up on it)."""
    from django.db import connection

    from bookings.models import Booking

    world = world_make(parents, sessions)
    workdir = Path(tempfile.mkdtemp(prefix="alliance-scaleout-"))
    media = workdir / "media"
    media.mkdir()
    env = node_env(database_url, redis_url, media, secret or secrets.token_urlsafe(50))
    nodes = [Node(f"web-{n}", free_port(), env, workdir, workers) for n in (1, 2)]
    nginx = None
    tally = Tally()
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        nginx = Nginx(workdir, nodes, media)
        base = nginx.url
        start = threading.Event()
        stop = threading.Event()
        begin = time.monotonic()
        stop_at = begin + duration
        threads = [
            threading.Thread(
                target=_parent,
                args=(tally, nginx, p, f"127.0.{1 + n // 200}.{1 + n % 200}", world.offering_ids)
                + (stop_at, start),
                daemon=True,
            )
            for n, p in enumerate(world.parents)
        ]
        staff = threading.Thread(
            target=_staff,
            args=(tally, nginx, world.kiosk_key, stop, start, env["DJANGO_SECRET_KEY"]),
            daemon=True,
        )
        for thread in [*threads, staff]:
            thread.start()
        start.set()
        # the kill: a third of the way in, node 2 dies with everything in flight
        time.sleep(duration / 3)
        victim = nodes[1]
        killed_at = time.monotonic()
        victim.kill()
        killed_done = time.monotonic()
        time.sleep(min(3.0, duration / 6))
        victim.start()
        victim.wait_ready()
        restarted_at = time.monotonic()
        for thread in threads:
            thread.join(timeout=duration + 120)
        stop.set()
        staff.join(timeout=120)
        ended = time.monotonic()

        # sessions survive: the same cookie is still signed in, on both nodes. nginx
        # may still skip the restarted node for fail_timeout (10 s) after a refused
        # connection while it was down: ask again until each node has answered each
        # parent (or 30 s have passed, and the check fails).
        valid, answering = 0, set()
        for parent in world.parents:
            http = parent.get("http")
            if http is None:
                continue
            ok, seen, deadline = True, set(), time.monotonic() + 30
            while ok and len(seen) < 2 and time.monotonic() < deadline:
                response = _call(tally, http, "after", "GET", f"{base}/api/v1/me")
                if response is None or response.status_code != 200:
                    ok = False
                    break
                seen.add(response.headers.get("X-Upstream", ""))
                ok = response.json().get("signed_in") is True
                time.sleep(0.1)
            answering |= seen
            valid += ok and len(seen) == 2 and http.cookies.get("sessionid") == parent["cookie"]
    finally:
        if nginx:
            nginx.stop()
        for node in nodes:
            node.stop()

    rows = list(
        Booking.objects.filter(offering_id__in=world.offering_ids).values_list(
            "family_id", "offering_id", "checked_in_at"
        )
    )
    connection.close()
    pairs = [(f, o) for f, o, _ in rows]
    intended = {(p["family_id"], o) for p in world.parents for o in world.offering_ids}
    victim_address = f"127.0.0.1:{nodes[1].port}"
    errors = [c for c in tally.calls if c.status is None or c.status >= 500]
    in_flight = [
        c
        for c in tally.calls
        # sent before the node was gone, answered after it was killed, by it (or by
        # nginx on its behalf: "victim, web-1" when nginx re-sent a GET elsewhere)
        if c.started <= killed_done
        and c.ended >= killed_at
        and (not c.node or victim_address in c.node.split(", "))
    ]
    load_calls = [c for c in tally.calls if c.kind != "after"]
    latencies = [(c.ended - c.started) * 1000 for c in load_calls if c.status is not None]
    return Result(
        parents=parents,
        sessions=sessions,
        duration=ended - begin,
        requests=len(load_calls),
        requests_per_second=len(load_calls) / (ended - begin),
        p95_ms=_p95(latencies),
        errors=errors,
        in_flight_at_kill=len(in_flight),
        killed_at=killed_at - begin,
        restarted_at=restarted_at - begin,
        intended_bookings=len(intended),
        booking_rows=len(rows),
        duplicate_bookings=len(pairs) - len(set(pairs)),
        missing_bookings=len(intended - set(pairs)),
        rate_limit_waits=tally.rate_limit_waits,
        checked_in=sum(1 for *_, at in rows if at is not None),
        sessions_still_valid=valid,
        nodes_answering_after=answering,
        problems=tally.problems,
        kill_window=(killed_at, killed_done),
        workdir=str(workdir),
        p95_by_kind={
            kind: _p95(
                [(c.ended - c.started) * 1000 for c in load_calls if c.kind == kind and c.status]
            )
            for kind in ("browse", "book", "check in", "login")
        },
    )


def errors_only_in_flight(result: Result) -> bool:
    """Every failed request was sent before the node died and was still waiting
    when it died (nothing failed before the kill or after it)."""
    killed_at, killed_done = result.kill_window
    return all(c.started <= killed_done and c.ended >= killed_at for c in result.errors)


def verdict(result: Result) -> dict[str, bool]:
    """What the drill must show, each named."""
    return {
        "every intended booking made exactly once": result.booking_rows == result.intended_bookings
        and result.duplicate_bookings == 0
        and result.missing_bookings == 0,
        "every booked family checked in once": result.checked_in == result.intended_bookings,
        "failed requests only those in flight on the killed node": errors_only_in_flight(result)
        and len(result.errors) <= result.in_flight_at_kill,
        "every session cookie still signed in, on both nodes": result.sessions_still_valid
        == result.parents
        and len(result.nodes_answering_after) == 2,
        "no other problem": not result.problems,
    }


# --- the command -------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parents", type=int, default=40)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alliance"))
    database_url = args.database_url or urlunparse(base._replace(path="/alliance_scaleout"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = urlparse(database_url).path.lstrip("/")
    admin = urlunparse(urlparse(database_url)._replace(path="/postgres"))
    # The drill's own database, new each run (the factories' names start again).
    subprocess.run(
        ["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True
    )
    subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    secret = secrets.token_urlsafe(50)
    env = node_env(database_url, redis_url, ROOT / "media", secret)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update({k: v for k, v in env.items() if k != "MEDIA_ROOT"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    result = drill(
        database_url=database_url,
        redis_url=redis_url,
        parents=args.parents,
        sessions=args.sessions,
        duration=args.duration,
        workers=args.workers,
        secret=secret,
    )
    print(result.summary())
    checks = verdict(result)
    for name, passed in checks.items():
        print(f"  {'ok    ' if passed else 'FAILED'} {name}")
    ok = all(checks.values())
    print("scale-out drill:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
