"""No leak: one gunicorn sync worker's memory across 10,000 mixed requests.

The worker is warmed up with 1,000 requests of the same mix (imports, template
and translation caches, jieba's dictionary, connection), then its resident set
(VmRSS in /proc/<pid>/status) is read, and read again after each 2,000 of the
next 10,000 requests, so a steady climb (a leak) is told from a step (a cache
filling once). The mix is what parents ask for: the catalogue with one to three
facets or a keyword and a page, course pages, event pages, the signed-in home
page and 我的学习, a booking's cancel page, and the bare view.

With BENCH_LEAK_TRACE=1 the worker runs under tracemalloc and, on SIGUSR2 (in
the worker, not the master), writes the top allocation sites compared with the
first snapshot to /tmp/bench_leak_<pid>.txt: the way to find a leak's source.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from bench import load
from bench.harness import goal, gunicorn, notes, record, rss_mb
from bench.http_booking import signed_in_parents

GOAL_LEAK = "Gunicorn worker RSS grows < 20 MB over 10,000 mixed requests"
PORT = 8752
WARM_UP, MEASURED, STEP = 1_000, 10_000, 2_000
SIGNED_IN = 50
TRACE_CONFIG = Path(__file__).with_name("leak_trace_conf.py")


def _words() -> list[str]:
    """Keywords parents type: the domain words of the search, plus a few everyday ones."""
    text = (Path(__file__).resolve().parent.parent / "courses" / "search_words.txt").read_text(
        encoding="utf-8"
    )
    words = [line.split()[0] for line in text.splitlines() if line.strip() and line[0] != "#"]
    return words + ["沟通", "孩子", "手机", "作业", "情绪", "青春期 叛逆", "阅读 习惯"]


def _mix():
    """A function of the request's index giving a parent's request, deterministic."""
    from django.db.models import Q

    from bookings.models import Booking
    from courses.models import Course, Theme
    from events.models import Event
    from members.models import Region, SchoolStage
    from parent_school.models import ParentSchool, Term

    courses = list(
        Course.objects.filter(is_published=True).order_by("?").values_list("pk", flat=True)[:500]
    )
    events = list(
        Event.objects.exclude(status=Event.Status.DRAFT)
        .order_by("?")
        .values_list("pk", flat=True)[:200]
    )
    facets = {
        "theme": [str(pk) for pk in Theme.objects.values_list("pk", flat=True)[:50]],
        "stage": [c for c, _label in SchoolStage.choices],
        "level": [c for c, _label in Course.Level.choices],
        "mode": [c for c, _label in Course.Mode.choices],
        "region": [
            str(pk) for pk in Region.objects.order_by("?").values_list("pk", flat=True)[:50]
        ],
        "parent_school": [
            str(pk) for pk in ParentSchool.objects.order_by("?").values_list("pk", flat=True)[:50]
        ],
        "term": [str(pk) for pk in Term.objects.values_list("pk", flat=True)],
        "free": ["on"],
    }
    facets = {name: values for name, values in facets.items() if values}
    words = _words()
    parents, keys = signed_in_parents(SIGNED_IN, skip=5000)
    bookings = dict(
        Booking.objects.filter(
            Q(status="confirmed") | Q(status="waiting"),
            family_id__in=[p.family_id for p in parents],
        ).values_list("family_id", "pk")
    )
    from urllib.parse import urlencode

    def catalogue(rng: random.Random, keyword: bool) -> str:
        params = dict(
            (name, rng.choice(facets[name]))
            for name in rng.sample(sorted(facets), rng.randint(1, min(3, len(facets))))
        )
        if keyword:
            params = {"q": rng.choice(words)} | (params if rng.random() < 0.3 else {})
        page = rng.randint(1, 5)
        if page > 1:
            params["page"] = str(page)
        return "/courses/?" + urlencode(params)

    def make(index: int) -> load.Request:
        rng = random.Random(index)
        parent = parents[index % len(parents)]
        signed_in = {"Cookie": parent.cookie}
        roll = rng.random()
        if roll < 0.20:
            return load.Request("GET", catalogue(rng, keyword=False))
        if roll < 0.28:
            return load.Request("GET", catalogue(rng, keyword=True))
        if roll < 0.40:
            return load.Request("GET", f"/courses/{rng.choice(courses)}/")
        if roll < 0.48:
            return load.Request("GET", f"/courses/{rng.choice(courses)}/", signed_in)
        if roll < 0.53:
            return load.Request("GET", f"/events/?page={rng.randint(1, 5)}")
        if roll < 0.63:
            return load.Request("GET", f"/events/{rng.choice(events)}/", dict(signed_in))
        if roll < 0.73:
            return load.Request("GET", "/bench/bare/")
        if roll < 0.82:
            return load.Request("GET", "/", signed_in)
        if roll < 0.91:
            return load.Request("GET", "/me/", signed_in)
        booking = bookings.get(parent.family_id)
        if booking is None:
            return load.Request("GET", "/me/", signed_in)
        return load.Request("GET", f"/me/bookings/{booking}/cancel/", signed_in)

    return make, keys


def bench_leak() -> None:
    from django.contrib.sessions.models import Session

    make, keys = _mix()
    trace = os.environ.get("BENCH_LEAK_TRACE") == "1"
    extra = ("-c", str(TRACE_CONFIG)) if trace else ()
    try:
        with gunicorn(PORT, workers=1, worker_class="sync", extra_args=extra) as server:
            worker = server.worker_pids()[0]
            booted = rss_mb(worker)
            started = time.perf_counter()
            warm = load.run_load(server.url, make, connections=2, total=WARM_UP)
            before = rss_mb(worker)
            if trace:
                os.kill(worker, signal.SIGUSR2)  # the baseline snapshot
            series = [f"{before:.1f}"]
            statuses = warm.statuses.copy()
            errors = sum(warm.errors.values())
            for chunk in range(MEASURED // STEP):
                offset = WARM_UP + chunk * STEP
                result = load.run_load(
                    server.url, lambda i, o=offset: make(o + i), connections=2, total=STEP
                )
                statuses += result.statuses
                errors += sum(result.errors.values())
                series.append(f"{rss_mb(worker):.1f}")
            after = rss_mb(worker)
            if trace:
                os.kill(worker, signal.SIGUSR2)
                time.sleep(10)
                notes.append(f"leak: tracemalloc's top growth is in /tmp/bench_leak_{worker}.txt")
            if worker not in server.worker_pids():
                raise RuntimeError("the gunicorn worker was replaced during the run")
            elapsed = time.perf_counter() - started
    finally:
        Session.objects.filter(session_key__in=keys).delete()
    growth = after - before
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    detail = (
        f"{before:.1f} MB → {after:.1f} MB after {MEASURED:,} requests: +{growth:.1f} MB "
        f"(every {STEP:,}: {' → '.join(series)} MB); {server_errors} 5xx, "
        f"{errors} transport errors"
    )
    record(
        "memory",
        f"one gunicorn sync worker, VmRSS after {WARM_UP:,} warm-up requests and after "
        f"{MEASURED:,} more of the mix",
        detail,
        f"bench/leak.py: {load.TOOL}, /proc/<worker>/status",
    )
    record(
        "memory",
        "the same worker's VmRSS when it had booted (before the warm-up)",
        f"{booted:.1f} MB",
        "bench/leak.py, /proc/<worker>/status",
    )
    record(
        "memory",
        f"the mix's responses ({WARM_UP + MEASURED:,} requests in {elapsed:.0f} s)",
        codes,
        "bench/leak.py",
    )
    goal(GOAL_LEAK, growth < 20 and server_errors == 0 and errors == 0, detail)
