"""`make bench`: benchmarks against PostgreSQL, written to docs/PERFORMANCE.md.

The data set lives in its own database (default ``alliance_bench`` on the server
of DATABASE_URL; override with BENCH_DATABASE_URL). If that database has no
scale data yet it is created, migrated and filled with
``generate_scale_data --preset $BENCH_PRESET --seed 1`` (district-large by
default); later runs reuse it, so `make bench` takes minutes, not hours.

Every comparison is a ratio of two figures measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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
notes: list[str] = []
goals: dict[str, float] = {}  # measured values the goals are checked against


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


# --- the data set --------------------------------------------------------------------


def ensure_dataset() -> None:
    name = urlparse(BENCH_URL).path.lstrip("/")
    admin_url = urlunparse(urlparse(BENCH_URL)._replace(path="/postgres"))
    exists = subprocess.run(
        ["psql", admin_url, "-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", admin_url, "-c", f'CREATE DATABASE "{name}"'], check=True)
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"])
    started = time.perf_counter()
    out = run(
        [PYTHON, "manage.py", "generate_scale_data", "--preset", PRESET, "--seed", str(SEED)],
        capture_output=True,
    ).stdout
    print(out, flush=True)
    if "nothing to do" not in out:
        record(
            "data",
            f"generate_scale_data --preset {PRESET}",
            f"{time.perf_counter() - started:.0f} s",
            f"manage.py generate_scale_data --preset {PRESET} --seed {SEED}",
        )


def setup_django() -> None:
    os.environ.update(
        {
            k: v
            for k, v in ENV.items()
            if k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        }
    )
    import django

    django.setup()


def dataset_counts() -> None:
    from django.db import connection

    tables = {
        "parents (guardians)": "members_guardian",
        "courses": "courses_course",
        "sessions": "courses_coursesession",
        "enrolments + registrations (bookings)": "bookings_booking",
        "events": "events_event",
        "booking attendees": "bookings_bookingattendee",
        "credit entries": "courses_creditentry",
    }
    with connection.cursor() as cursor:
        for label, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            record("data", label, f"{cursor.fetchone()[0]:,}", f"SELECT count(*) FROM {table}")


# --- 1. catalogue throughput under gunicorn vs a bare view ---------------------------------


def bench_catalogue() -> None:
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    for url, warm in (
        ("/courses/", False),
        ("/courses/?page=50", False),
        ("/courses/", True),
        ("/bench/bare/", True),
    ):
        client.get(url)  # warm the process (imports, connections)
        if not warm:
            cache.clear()  # the cost of a page nobody asked for in the last 30 s
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(url).status_code
        elapsed = (time.perf_counter() - started) * 1000
        slowest = max((float(q["time"]) for q in ctx.captured_queries), default=0.0)
        state = "shared content cached" if warm else "cache cold"
        record(
            "catalogue",
            f"GET {url} ({state}, status {status}): queries / time / slowest query, in-process",
            f"{len(ctx.captured_queries)} / {elapsed:.0f} ms / {slowest * 1000:.0f} ms",
            "django.test.Client + CaptureQueriesContext (scripts/bench.py)",
        )
        reset_queries()
    if shutil.which("wrk") is None:
        notes.append("wrk is not installed: catalogue throughput not measured.")
        return
    port = 8765
    workers = os.cpu_count() or 2
    gunicorn = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "alliance.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=ENV,
    )
    try:
        for _ in range(100):
            try:
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        # A second catalogue run asks a different URL every time, so the shared
        # content is never reused: the cost of rendering it from the database.
        lua = Path(tempfile.mkdtemp()) / "distinct.lua"
        lua.write_text(
            'request = function() return wrk.format(nil, "/courses/?page=" '
            '.. math.random(1, 1600) .. "&r=" .. math.random(1, 1000000000)) end\n'
        )
        rates = {}
        for label, path, script in (
            ("bare view", "/bench/bare/", ""),
            ("catalogue", "/courses/", ""),
            ("catalogue, a different URL every request", "/courses/", f"-s {lua} "),
        ):
            command = (
                f"wrk -t2 -c4 --timeout 30s -d{WRK_SECONDS}s {script}http://127.0.0.1:{port}{path}"
            )
            warm = f"wrk -t2 -c4 --timeout 30s -d2s http://127.0.0.1:{port}{path}"
            subprocess.run(warm.split(), capture_output=True)
            out = subprocess.run(command.split(), capture_output=True, text=True).stdout
            rps = next(
                (
                    float(line.split()[1])
                    for line in out.splitlines()
                    if line.startswith("Requests/sec")
                ),
                0.0,
            )
            non2xx = next((line.strip() for line in out.splitlines() if "Non-2xx" in line), "")
            rates[label] = rps
            record(
                "catalogue",
                f"{label} requests/s (gunicorn, {workers} sync workers){' — ' + non2xx if non2xx else ''}",
                f"{rps:,.1f}",
                command,
            )
        if rates.get("bare view"):
            ratio = rates["catalogue"] / rates["bare view"]
            goals["catalogue_ratio"] = ratio
            record(
                "catalogue",
                "catalogue / bare view throughput (goal ≥ 40%)",
                f"{ratio:.2%}",
                "ratio of the two wrk runs above",
            )
            record(
                "catalogue",
                "catalogue with nothing reused / bare view throughput (for reference)",
                f"{rates['catalogue, a different URL every request'] / rates['bare view']:.2%}",
                "ratio of the wrk runs above",
            )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)


# --- 1a. the catalogue's keyword search at 20,000 courses ---------------------------------

# Realistic course texts for the search benchmark: the generated courses are titled
# 规模测试课程N with no summary, body or theme, which no parent would search for.
_TOPICS = [
    ("亲子沟通", "倾听", "表达", "冲突"),
    ("青春期", "叛逆", "情绪", "自我认同"),
    ("隔代教养", "祖辈", "分歧", "合作"),
    ("幼小衔接", "入学准备", "习惯", "专注力"),
    ("学习习惯", "作业", "时间管理", "拖延"),
    ("手机管理", "网络沉迷", "屏幕时间", "约定"),
    ("心理健康", "压力", "焦虑", "睡眠"),
    ("法治教育", "校园欺凌", "自我保护", "规则"),
    ("家庭阅读", "绘本", "亲子阅读", "书香家庭"),
    ("劳动教育", "家务", "责任感", "独立"),
    ("科学与AI", "编程", "好奇心", "探究"),
    ("生涯规划", "中考", "志愿填报", "兴趣"),
]
_FORMS = ["工作坊", "讲座", "训练营", "家长课堂", "沙龙", "微课", "读书会", "案例研讨"]
_VERBS = ["如何", "学会", "掌握", "理解", "陪伴孩子走过", "和孩子一起面对"]
_SKILLS = ["的技巧", "的方法", "五步法", "实用指南", "常见误区", "十个问题"]
SEARCH_QUERIES = [
    ("沟通技巧", "two two-character words"),
    ("亲子沟通", "a domain word, also matched by its parts"),
    ("青春期 叛逆 手机管理", "three words"),
    ("家庭 学校 社区 孩子", "four words every course has"),
    ("天文望远镜", "no course matches"),
    ("爱", "one character: no index can help, a scan"),
]


def _course_text(i: int) -> tuple[str, str, str]:
    """A title (about 20 characters), a summary (about 50) and a body (about 400)."""
    topic = _TOPICS[i % len(_TOPICS)]
    other = _TOPICS[(i // len(_TOPICS)) % len(_TOPICS)]
    form = _FORMS[(i // 7) % len(_FORMS)]
    title = f"{topic[0]}{_SKILLS[i % len(_SKILLS)]}{form}（第{i % 40 + 1}期）"
    summary = (
        f"{_VERBS[i % len(_VERBS)]}{topic[1]}与{topic[2]}：面向家长的{form}，"
        f"结合{other[0]}中的真实案例，帮助家庭找到适合自己的做法。"
    )
    body = "\n\n".join(
        f"第{n + 1}讲：{t}。本讲从家庭教育的日常场景出发，讨论{topic[(n + 1) % 4]}"
        f"和{other[(n + 2) % 4]}之间的关系，讲师会分享社区家长学校的经验，"
        "家长分组练习，课后完成一次亲子实践并在群里交流。"
        for n, t in enumerate(topic)
    )
    return title, summary, body


class _RollBack(Exception):
    pass


def bench_search() -> None:
    """The catalogue with a keyword search, cache cold, at the data set's 20,000
    courses. Their texts and themes are replaced by realistic ones inside a
    transaction that is rolled back at the end, so the data set is left as it was."""
    from django.core.cache import cache
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from courses import search
    from courses.models import Course, Theme
    from courses.selectors import course_catalogue

    client = Client()
    started = time.perf_counter()
    search.search_words("预热")
    record(
        "search",
        "jieba dictionary and the domain words, loaded once per process (first search)",
        f"{(time.perf_counter() - started) * 1000:.0f} ms",
        "courses.search.search_words, timed in scripts/bench.py",
    )
    try:
        with transaction.atomic():
            started = time.perf_counter()
            ids = list(Course.objects.order_by("pk").values_list("pk", flat=True))
            themes = [Theme.objects.get_or_create(name=topic[0])[0] for topic in _TOPICS]
            with connection.cursor() as cursor:
                for offset in range(0, len(ids), 2000):
                    chunk = ids[offset : offset + 2000]
                    rows = [(pk, *_course_text(i)) for i, pk in enumerate(chunk, start=offset)]
                    cursor.execute(
                        "UPDATE courses_course AS c SET title = v.title, summary = v.summary, "
                        "body = v.body FROM (SELECT unnest(%s::bigint[]) AS id, "
                        "unnest(%s::text[]) AS title, unnest(%s::text[]) AS summary, "
                        "unnest(%s::text[]) AS body) AS v WHERE c.id = v.id",
                        [list(column) for column in zip(*rows, strict=True)],
                    )
                Course.themes.through.objects.bulk_create(
                    [
                        Course.themes.through(course_id=pk, theme_id=themes[i % len(themes)].pk)
                        for i, pk in enumerate(ids)
                    ],
                    batch_size=5000,
                    ignore_conflicts=True,
                )
                cursor.execute("ANALYZE courses_course")
                cursor.execute("ANALYZE courses_course_themes")
            record(
                "search",
                f"setting realistic titles, summaries, bodies and themes on {len(ids):,} "
                "courses (the bigram index follows; rolled back afterwards)",
                f"{time.perf_counter() - started:.0f} s",
                "UPDATE courses_course … FROM unnest(…) in scripts/bench.py",
            )
            cases = [(f"/courses/?q={q}", q, what) for q, what in SEARCH_QUERIES]
            cases.append(("/courses/?q=沟通&page=50", "沟通", "one word, page 50"))
            cases.append(("/courses/", "", "no search, the same courses, for comparison"))
            for url, query, what in cases:
                matched = course_catalogue(data={"q": query}).courses.count()
                client.get(url)  # warm the process (imports, connections)
                cache.clear()  # the cost of a search nobody asked for in the last 30 s
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as ctx:
                    status = client.get(url).status_code
                elapsed = (time.perf_counter() - started) * 1000
                slowest = max((float(q["time"]) for q in ctx.captured_queries), default=0.0)
                record(
                    "search",
                    f"GET {url} ({what}; {matched:,} courses found; cache cold, status "
                    f"{status}): queries / time / slowest query, in-process",
                    f"{len(ctx.captured_queries)} / {elapsed:.0f} ms / {slowest * 1000:.0f} ms",
                    "django.test.Client + CaptureQueriesContext (scripts/bench.py)",
                )
                if url == cases[0][0]:  # the same search asked again within 30 s
                    started = time.perf_counter()
                    with CaptureQueriesContext(connection) as ctx:
                        status = client.get(url).status_code
                    elapsed = (time.perf_counter() - started) * 1000
                    record(
                        "search",
                        f"GET {url} again (shared content cached, status {status}): "
                        "queries / time, in-process",
                        f"{len(ctx.captured_queries)} / {elapsed:.0f} ms",
                        "django.test.Client + CaptureQueriesContext (scripts/bench.py)",
                    )
            raise _RollBack
    except _RollBack:
        pass
    cache.clear()


# --- 1b. the coordinators' dashboards on the snapshots ------------------------------------


def bench_dashboards() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import RoleAssignment
    from reports.models import ParticipationSnapshot

    admin = RoleAssignment.objects.filter(role="district_admin").select_related("user").first()
    alliance = (
        RoleAssignment.objects.filter(role="alliance_coordinator").select_related("user").first()
    )
    snapshot = ParticipationSnapshot.objects.filter(parent_school__isnull=False).first()
    if admin is None or snapshot is None:
        notes.append("dashboards: no coordinator or no snapshot yet; not measured.")
        return
    pages = [
        (admin.user, "district admin", "/reports/"),
        (alliance.user if alliance else admin.user, "alliance coordinator", "/reports/"),
        (admin.user, "district admin", f"/reports/units/{snapshot.unit_id}/"),
        (admin.user, "district admin", f"/reports/parent-schools/{snapshot.parent_school_id}/"),
    ]
    for user, role, url in pages:
        client = Client()
        client.force_login(user)
        client.get(url)  # warm
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(url).status_code
        record(
            "dashboards",
            f"GET {url} as {role} (status {status}): queries / time",
            f"{len(ctx.captured_queries)} / {(time.perf_counter() - started) * 1000:.0f} ms",
            "django.test.Client + CaptureQueriesContext (scripts/bench.py)",
        )


# --- 2. enrolment latency and the 30-seat race --------------------------------------------


def _fresh_offering(capacity: int, title: str, starts_in: dt.timedelta = dt.timedelta(days=30)):
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


def bench_enrolment() -> None:
    from django.db import connection

    from bookings.models import Booking
    from bookings.services import booking_create
    from members.models import Guardian

    guardians = list(Guardian.objects.select_related("family", "user").order_by("-pk")[:400])
    # p95: 200 bookings one after another (each its own transaction and lock).
    offering = _fresh_offering(1000, "bench latency")
    latencies = []
    for guardian in guardians[:200]:
        started = time.perf_counter()
        booking_create(
            offering_id=offering.pk,
            family=guardian.family,
            booked_by=guardian.user,
            guardian_ids=[guardian.pk],
        )
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    record(
        "enrolment",
        "booking_create latency p50 / p95 (200 sequential bookings)",
        f"{statistics.median(latencies):.1f} ms / {p95:.1f} ms",
        "bookings.services.booking_create, timed in scripts/bench.py",
    )

    # The race: 200 attempts at once on 30 seats, through 40 connections
    # (PostgreSQL allows 100 connections, shared with the rest of the machine).
    race = _fresh_offering(30, "bench race")
    barrier = threading.Barrier(40)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(guardian, first: bool):

        try:
            if first:
                barrier.wait(timeout=30)
            booking = booking_create(
                offering_id=race.pk,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=[guardian.pk],
            )
            result = booking.status
        except Exception as error:  # busy, etc.
            result = type(error).__name__
        with lock:
            outcomes.append(result)
        return result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = [
            pool.submit(attempt, guardian, index < 40)
            for index, guardian in enumerate(guardians[200:400])
        ]
        for future in futures:
            future.result()
        # Close each worker thread's connection.
        pool.map(lambda _x: connection.close(), range(40))
    elapsed = time.perf_counter() - started
    race.refresh_from_db()
    confirmed = Booking.objects.filter(offering=race, status="confirmed").count()
    waiting = Booking.objects.filter(offering=race, status="waiting").count()
    others = len([o for o in outcomes if o not in ("confirmed", "waiting")])
    record(
        "enrolment",
        "200 concurrent attempts on 30 seats (40 threads): confirmed / waiting / errors",
        f"{confirmed} / {waiting} / {others} (places_taken {race.places_taken}, {elapsed:.1f} s)",
        "ThreadPoolExecutor(40) × bookings.services.booking_create (scripts/bench.py)",
    )


# --- 3. roll-up vs its SQL floor ---------------------------------------------------------


def bench_rollup() -> str:
    from django.db import connection, transaction
    from django.utils import timezone

    from parent_school.models import Term
    from reports.rollup import _queries, _targets, reporting_session
    from reports.services import participation_rollup

    term = Term.objects.get(is_current=True)
    now = timezone.now()
    queries = _queries(term, now)

    def floor() -> tuple[float, dict[str, float]]:
        """The roll-up's aggregate queries alone, back to back: no Python, no upsert."""
        each = {}
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for name, _metrics, sql, params in queries:
                t0 = time.perf_counter()
                with transaction.atomic():
                    reporting_session(cursor)
                    cursor.execute(sql, params)
                    cursor.fetchall()
                each[name] = time.perf_counter() - t0
        _targets(term)
        return time.perf_counter() - started, each

    floor()  # warm the cache for both
    floor_s, each = floor()
    started = time.perf_counter()
    rows = participation_rollup(term=term, now=now)
    rollup_s = time.perf_counter() - started
    biggest = max(each, key=each.get)
    goals["rollup_ratio"] = rollup_s / floor_s
    goals["rollup_seconds"] = rollup_s
    record(
        "roll-up",
        f"SQL floor: the roll-up's {len(queries)} aggregate queries of term {term.code}, "
        "executed alone",
        f"{floor_s:.2f} s",
        "reports.rollup._queries(...) run back to back on one connection (scripts/bench.py)",
    )
    record(
        "roll-up",
        "  of which, per query",
        ", ".join(f"{name} {sec:.2f} s" for name, sec in each.items()),
        "same run",
    )
    record(
        "roll-up",
        f"full roll-up of term {term.code} ({rows:,} snapshot rows, upsert included)",
        f"{rollup_s:.2f} s",
        f"manage.py rollup_participation --term {term.code} (same function, timed in-process)",
    )
    record(
        "roll-up",
        "roll-up / SQL floor (goal ≤ 2×, and < 30 s)",
        f"{rollup_s / floor_s:.2f}×",
        "ratio of the two figures above",
    )
    record(
        "roll-up",
        f"roll-up / its largest single aggregate ({biggest}) — for reference",
        f"{rollup_s / each[biggest]:.2f}×",
        "ratio, same run",
    )
    return term.code


# --- 4. CSV export vs psql \copy -------------------------------------------------------------


def bench_csv(term_code: str) -> None:
    from django.db import connection

    from parent_school.models import Term
    from reports.exports import raw_rows_queryset

    term = Term.objects.get(code=term_code)
    out_dir = Path(tempfile.mkdtemp(prefix="bench-csv-"))
    try:
        ours = out_dir / "export.csv"
        command = [
            PYTHON,
            "manage.py",
            "export_term_report",
            "--term",
            term_code,
            "--format",
            "csv",
            "--output",
            str(ours),
        ]
        export_s, export_mb, _ = timed_child(command)
        qs = raw_rows_queryset(term=term, unit_ids=None)
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            literal = cursor.mogrify(sql, params) if hasattr(cursor, "mogrify") else None
        if literal is None:
            literal = connection.ops.compose_sql(sql, params)
        copy_file = out_dir / "copy.csv"
        copy_cmd = ["psql", BENCH_URL, "-c", f"\\copy ({literal}) TO '{copy_file}' WITH CSV HEADER"]
        copy_s, copy_mb, _ = timed_child(copy_cmd)
        goals["csv_ratio"] = export_s / copy_s
        goals["csv_mb"] = export_mb
        rows_ours = sum(1 for _ in ours.open(encoding="utf-8")) - 1
        rows_copy = sum(1 for _ in copy_file.open(encoding="utf-8")) - 1
        record(
            "csv export",
            f"export_term_report --format csv ({rows_ours:,} rows): time / peak RSS",
            f"{export_s:.2f} s / {export_mb:.0f} MB",
            " ".join(command[1:]).replace(str(ours), "/tmp/term.csv"),
        )
        record(
            "csv export",
            f"psql \\copy of the same query ({rows_copy:,} rows): time / peak RSS",
            f"{copy_s:.2f} s / {copy_mb:.0f} MB",
            "psql $BENCH_DATABASE_URL -c \"\\copy (<the export's SQL>) TO '/tmp/copy.csv' CSV HEADER\"",
        )
        record(
            "csv export",
            "export / \\copy time (goal ≤ 3×, peak memory < 300 MB)",
            f"{export_s / copy_s:.2f}×",
            "ratio of the two figures above",
        )
        # The workbook of the whole district (summary, sessions, roster) in the
        # same way; roster sheets continue on "(2)" past 1,000,000 rows.
        book = out_dir / "term.xlsx"
        xlsx_cmd = [*command[:-3], "xlsx", "--output", str(book)]
        xlsx_s, xlsx_mb, xlsx_out = timed_child(xlsx_cmd)
        record(
            "xlsx export",
            f"export_term_report --format xlsx, all units ({xlsx_out.split(': ')[-1].split(' in')[0]}):"
            " time / peak RSS / file size",
            f"{xlsx_s:.2f} s / {xlsx_mb:.0f} MB / {book.stat().st_size / 1e6:.0f} MB",
            " ".join(xlsx_cmd[1:]).replace(str(book), "/tmp/term.xlsx"),
        )
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# --- 5. reminders claimed and sent per minute ------------------------------------------------


def bench_reminders() -> None:
    try:
        from events import reminders
        from events.models import Event
    except ImportError:
        notes.append("events.reminders is not present: reminders not measured.")
        return
    from unittest import mock

    from django.conf import settings
    from django.utils import timezone

    from bookings.models import Booking
    from members.models import Guardian

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # 100 events starting in 90 minutes, 30 registered families each.
    now = timezone.now()
    guardians = list(Guardian.objects.select_related("family").order_by("pk")[:3000])
    offerings = []
    for index in range(100):
        offering = _fresh_offering(
            100, f"bench reminders {index}", starts_in=dt.timedelta(minutes=90)
        )
        Event.objects.create(
            title=offering.title,
            kind=Event.Kind.LECTURE,
            organiser_unit_id=offering.unit_id,
            audience=Event.Audience.PARENTS,
            venue="报告厅",
            offering=offering,
            status=Event.Status.PUBLISHED,
        )
        offerings.append(offering)
        Booking.objects.bulk_create(
            [
                Booking(
                    offering=offering,
                    family=g.family,
                    booked_by_id=g.user_id,
                    status="confirmed",
                    party_size=1,
                    confirmed_at=now - dt.timedelta(days=1),
                )
                for g in guardians[index * 30 : index * 30 + 30]
            ]
        )
    with mock.patch.object(reminders, "_dispatch", lambda ids, token: 0):
        started = time.perf_counter()
        planned = reminders.reminders_plan_due(now=now)
        plan_s = time.perf_counter() - started
        batches = []
        started = time.perf_counter()
        while True:
            token, ids = reminders.deliveries_claim_batch(
                now=now, limit=settings.REMINDER_BATCH_SIZE
            )
            if not ids:
                break
            batches.append((token, ids))
        claim_s = time.perf_counter() - started
    claimed = sum(len(ids) for _t, ids in batches)
    started = time.perf_counter()
    outcome: dict[str, int] = {}
    for token, ids in batches:
        for key, value in reminders.delivery_send_batch(
            delivery_ids=ids, claim_token=str(token)
        ).items():
            outcome[key] = outcome.get(key, 0) + value
    send_s = time.perf_counter() - started
    sent = outcome.get("sent", 0)
    record(
        "reminders",
        f"planned {planned:,} deliveries (100 test events × 30 families, plus the "
        "generated events that start within the next 24 h)",
        f"{plan_s:.2f} s",
        "events.reminders.reminders_plan_due (scripts/bench.py)",
    )
    record(
        "reminders",
        "claimed per minute (SELECT … FOR UPDATE SKIP LOCKED batches)",
        f"{claimed / claim_s * 60:,.0f} ({claimed:,} in {claim_s:.2f} s)",
        "events.reminders.deliveries_claim_batch in a loop",
    )
    record(
        "reminders",
        f"sent per minute in one worker process (outcomes {outcome})",
        f"{sent / send_s * 60:,.0f} ({sent:,} in {send_s:.2f} s)",
        "events.reminders.delivery_send_batch, locmem email backend",
    )


# --- the report ------------------------------------------------------------------------


def goal_lines() -> list[str]:
    """Met or missed, and by how much, for this run's figures."""
    lines = []
    if "catalogue_ratio" in goals:
        r = goals["catalogue_ratio"]
        short = "" if r >= 0.4 else (f", {0.4 / r:.0f}× short" if r else ", no request finished")
        lines.append(
            f"Catalogue ≥ 40% of the bare view: {'met' if r >= 0.4 else 'MISSED'} ({r:.2%}{short})."
        )
    if "rollup_ratio" in goals:
        r, sec = goals["rollup_ratio"], goals["rollup_seconds"]
        ok = r <= 2 and sec < 30
        lines.append(
            f"Roll-up within 2× its SQL floor and under 30 s: {'met' if ok else 'MISSED'} "
            f"({r:.2f}×, {sec:.1f} s)."
        )
    if "csv_ratio" in goals:
        r, mb = goals["csv_ratio"], goals["csv_mb"]
        ok = r <= 3 and mb < 300
        lines.append(
            f"CSV within 3× of \\copy with peak memory under 300 MB: {'met' if ok else 'MISSED'} "
            f"({r:.2f}×, {mb:.0f} MB)."
        )
    return lines


def write_report(started_at: dt.datetime, total_s: float) -> None:
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`scripts/bench.py`) against PostgreSQL. Every figure",
        "names the command that produced it; every ratio compares two figures of the same",
        "run. How to read them, and what was missed and why, is in the notes at the end.",
        "",
        f"- Run: {started_at:%Y-%m-%d %H:%M} UTC, {total_s / 60:.1f} minutes in all",
        f"- Data: `generate_scale_data --preset {PRESET} --seed {SEED}` in its own database",
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPU cores "
        "(shared with other work while measured), PostgreSQL "
        f"{_pg_version()}, Python {platform.python_version()}",
        "",
    ]
    for section in dict.fromkeys(r["section"] for r in results):
        lines += [f"## {section}", "", "| Figure | Value | Command |", "| --- | --- | --- |"]
        for r in results:
            if r["section"] == section:
                cmd = r["command"].replace("|", "\\|")
                lines.append(f"| {r['figure']} | **{r['value']}** | `{cmd}` |")
        lines.append("")
    lines += ["## Goals (this run)", ""]
    lines += [f"- {line}" for line in goal_lines()] or ["- (not measured)"]
    lines += ["", "## Notes from the run", ""]
    lines += [f"- {n}" for n in notes] or ["- (none)"]
    notes_file = ROOT / "bench" / "NOTES.md"
    if notes_file.exists():
        lines += ["", notes_file.read_text(encoding="utf-8").strip()]
    (ROOT / "docs" / "PERFORMANCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("wrote docs/PERFORMANCE.md", flush=True)


def _pg_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def cleanup() -> None:
    """Remove the offerings (and their bookings) earlier benchmark runs added."""
    from bookings.models import Offering
    from events.models import Event

    Event.objects.filter(offering__title__startswith="bench ").delete()
    Offering.objects.filter(title__startswith="bench ").delete()


def main() -> None:
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    ensure_dataset()
    setup_django()
    cleanup()
    dataset_counts()
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    steps = [
        ("catalogue", bench_catalogue),
        ("search", bench_search),
        ("enrolment", bench_enrolment),
        ("rollup", None),
        ("dashboards", bench_dashboards),
        ("reminders", bench_reminders),
    ]
    term_code = None
    for name, fn in steps:
        if only and name not in only and not (name == "rollup" and "csv" in only):
            continue
        try:
            if name == "rollup":
                term_code = bench_rollup()
                if not only or "csv" in only:
                    bench_csv(term_code)
            else:
                fn()
        except Exception as error:  # a failing benchmark is reported, not hidden
            notes.append(f"{name}: failed with {type(error).__name__}: {str(error)[:300]}")
            print(f"{name} failed: {error!r}", flush=True)
    cleanup()
    write_report(started_at, time.perf_counter() - t0)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
