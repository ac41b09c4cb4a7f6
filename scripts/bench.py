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
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (  # noqa: E402
    api_catalogue,
    catalogue,
    certificates,
    community,
    dashboards,
    enrolment,
    exports,
    handbook,
    http_booking,
    leak,
    reminders,
    rollup,
    suite,
    surveys,
)
from bench.harness import (  # noqa: E402
    BENCH_URL,
    ENV,
    PRESET,
    PYTHON,
    ROOT,
    SEED,
    goals,
    notes,
    record,
    results,
    run,
)

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
        "handbook claims": "handbook_claim",
        "boards": "community_board",
        "board threads": "community_thread",
        "board posts": "community_post",
        "buddy groups": "groups_group",
    }
    with connection.cursor() as cursor:
        for label, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            record("data", label, f"{cursor.fetchone()[0]:,}", f"SELECT count(*) FROM {table}")


# --- the report ------------------------------------------------------------------------


def goal_lines() -> list[str]:
    """Met or missed, with the measured value, for every goal this run checked."""
    return [f"{g.label}: {'met' if g.met else 'MISSED'} ({g.detail})." for g in goals]


def write_report(started_at: dt.datetime, total_s: float, unmeasured: dict[str, str]) -> None:
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`scripts/bench.py`) against PostgreSQL. Every figure",
        "names the command that produced it; every ratio compares two figures of the same",
        "run. How to read them, and what was missed and why, is in the notes at the end.",
        "",
        f"- Run: {started_at:%Y-%m-%d %H:%M} UTC, {total_s / 60:.1f} minutes in all",
        f"- Data: `generate_scale_data --preset {PRESET} --seed {SEED}` in its own database",
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPU cores, PostgreSQL "
        f"{_pg_version()}, Python {platform.python_version()}",
        # How busy the machine was is part of every figure (other work shares the cores).
        f"- Load average (1 min) at the start and at the end: {LOAD_AT_START:.2f} and "
        f"{os.getloadavg()[0]:.2f}",
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
    lines += [f"- {label}: NOT MEASURED ({why})." for label, why in unmeasured.items()]
    lines += ["", "## Notes from the run", ""]
    lines += [f"- {n}" for n in notes] or ["- (none)"]
    notes_file = ROOT / "bench" / "NOTES.md"
    if notes_file.exists():
        lines += ["", notes_file.read_text(encoding="utf-8").strip()]
    # BENCH_REPORT sends a partial run (BENCH_ONLY) somewhere other than the docs.
    report = Path(os.environ.get("BENCH_REPORT", ROOT / "docs" / "PERFORMANCE.md"))
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {report}", flush=True)


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


LOAD_AT_START = os.getloadavg()[0]


def main() -> None:
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    ensure_dataset()
    setup_django()
    cleanup()
    dataset_counts()
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    # Each step and the goals it must decide; a goal left undecided fails the bench.
    steps = [
        ("catalogue", catalogue.bench_catalogue, catalogue.GOALS),
        ("search", catalogue.bench_search, []),
        ("api_catalogue", api_catalogue.bench_api_catalogue, api_catalogue.GOALS),
        ("enrolment", enrolment.bench_enrolment, []),
        (
            "http_booking",
            http_booking.bench_http_booking,
            [http_booking.GOAL_RACE, http_booking.GOAL_RATE],
        ),
        ("leak", leak.bench_leak, [leak.GOAL_LEAK]),
        ("rollup", rollup.bench_rollup, rollup.GOALS),
        ("csv", exports.bench_csv, [exports.GOAL_CSV, exports.GOAL_XLSX]),
        ("dashboards", dashboards.bench_dashboards, []),
        ("handbook_queue", handbook.bench_handbook_queue, handbook.QUEUE_GOALS),
        ("handbook_page", handbook.bench_handbook_page, handbook.PAGE_GOALS),
        ("learning_families", handbook.bench_learning_families, handbook.LF_GOALS),
        ("reminders", reminders.bench_reminders, reminders.GOALS),
        ("survey_comparison", surveys.bench_survey_comparison, surveys.COMPARISON_GOALS),
        ("survey_rollup", surveys.bench_survey_rollup, surveys.ROLLUP_GOALS),
        ("community_pages", community.bench_board_pages, community.PAGE_GOALS),
        ("word_check", community.bench_word_check, community.WORD_GOALS),
        ("certificates", certificates.bench_certificates, certificates.GOALS),
        ("suite", suite.bench_suite, [suite.GOAL_SUITE]),
    ]
    unmeasured: dict[str, str] = {}
    for name, fn, expected in steps:
        if only and name not in only:
            continue
        why = "the step did not decide it"
        try:
            fn()
        except Exception as error:  # a failing benchmark is reported, not hidden
            why = f"{type(error).__name__}: {str(error)[:300]}"
            notes.append(f"{name}: failed with {why}")
            print(f"{name} failed: {error!r}", flush=True)
        decided = {g.label for g in goals}
        unmeasured.update({label: why for label in expected if label not in decided})
    cleanup()
    write_report(started_at, time.perf_counter() - t0, unmeasured)
    if unmeasured:
        for label, why in unmeasured.items():
            print(f"make bench: goal not measured — {label}: {why}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
