"""Catalogue throughput under gunicorn against a bare view, and keyword search."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.harness import (
    ROOT,
    WRK_SECONDS,
    goal,
    gunicorn,
    record,
    throughput,
)

GOAL_CACHED = "Cached catalogue landing page ≥ 50% of the bare view"
GOAL_UNCACHED = "Catalogue with nothing reused ≥ 5% of the bare view"
GOAL_COLD = "Cold catalogue page ≤ 30 ms median in-process, ≤ 8 queries"
GOALS = [GOAL_CACHED, GOAL_UNCACHED, GOAL_COLD]

# The realistic mix's search words (200 words and phrases parents type).
WORDS_FILE = ROOT / "bench" / "catalogue_words.txt"
# The gunicorn the step starts listens here (BENCH_PORT lets parallel runs differ).
PORT = int(os.environ.get("BENCH_PORT", "8765"))
WORKERS = os.cpu_count() or 2  # sync workers, as many as cores
MIX_URLS = 5000  # distinct URLs of the mix handed to wrk
COLD_URLS = 50  # of them, measured in-process one by one
MIX_SEED = 12
# The catalogue with nothing reused: its rendered content and its facet counts
# are not cached (bench/settings_nocache.py).
NOCACHE_SETTINGS = "bench.settings_nocache"


def catalogue_dataset() -> None:
    """The generated courses with realistic texts, themes and stages, once: a data
    set built before reports/scale.py gave them is enriched in place (committed),
    so that nobody has to build the 3M bookings again."""
    from reports.scale import catalogue_enrich

    started = time.perf_counter()
    enriched = catalogue_enrich(log=lambda _line: None)
    if enriched:
        record(
            "data",
            f"catalogue texts, themes and stages given to {enriched:,} generated courses "
            "(once; the bigram index follows)",
            f"{time.perf_counter() - started:.0f} s",
            "reports.scale.catalogue_enrich (bench/catalogue.py)",
        )


def search_words_list() -> list[str]:
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def catalogue_mix(count: int, seed: int = MIX_SEED) -> list[str]:
    """Catalogue URLs as parents ask them: a third search only, a third filter only
    (one to three facets), a third both; pages 1–5. Facet values are those of the
    published courses in the database; words from bench/catalogue_words.txt."""
    import random
    from urllib.parse import urlencode

    from courses.models import Course
    from members.models import Region

    published = Course.objects.filter(is_published=True).order_by()
    values = {
        "theme": sorted(set(published.exclude(themes=None).values_list("themes", flat=True))),
        "stage": sorted(set(published.exclude(stages=None).values_list("stages__code", flat=True))),
        "level": sorted(set(published.values_list("level", flat=True))),
        "mode": sorted(set(published.values_list("mode", flat=True))),
        "parent_school": sorted(set(published.values_list("parent_school", flat=True))),
        "term": sorted(set(published.values_list("term", flat=True))),
    }
    # A place with courses, or any place above one (a district lists its streets').
    parents = dict(Region.objects.values_list("pk", "parent_id"))
    regions = set()
    for pk in set(published.values_list("parent_school__region", flat=True)):
        while pk is not None and pk not in regions:
            regions.add(pk)
            pk = parents.get(pk)
    values["region"] = sorted(regions)
    facets = [name for name, found in values.items() if found]
    words = search_words_list()
    rng = random.Random(seed)
    urls = []
    for _ in range(count):
        kind = rng.randrange(3)  # 0: search only, 1: facets only, 2: both
        params: list[tuple[str, object]] = []
        if kind != 1:
            params.append(("q", rng.choice(words)))
        if kind != 0:
            for name in rng.sample(facets, rng.randint(1, min(3, len(facets)))):
                params.append((name, rng.choice(values[name])))
        page = rng.randint(1, 5)
        if page > 1:
            params.append(("page", page))
        urls.append("/courses/?" + urlencode(params))
    return urls


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def timed_requests(client, urls: list[str]) -> tuple[list[float], list[int], set[int]]:
    """Each URL asked once by ``client`` in-process: the times (ms), the query
    counts, and the statuses seen. Shared by bench/api_catalogue.py."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, statuses = [], [], set()
    for url in urls:
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            statuses.add(client.get(url).status_code)
        times.append((time.perf_counter() - started) * 1000)
        queries.append(len(ctx.captured_queries))
    return times, queries, statuses


def _cold_pages(urls: list[str]) -> None:
    """Each URL asked once in-process with the catalogue's caches off: median time,
    most queries. (The set of courses with free places is the one thing shared, for
    30 s, as the issue allows the free-seat badges.)"""
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()
    with override_settings(COURSE_CATALOGUE_CACHE_SECONDS=0, COURSE_FACET_CACHE_SECONDS=0):
        client.get("/courses/?q=预热&page=2")  # warm the process (imports, jieba, connections)
        times, queries, statuses = timed_requests(client, urls)
    median, most = _median(times), max(queries)
    detail = (
        f"median {median:.1f} ms, slowest {max(times):.0f} ms, at most {most} queries "
        f"over {len(urls)} mixed URLs; status {sorted(statuses)}"
    )
    record(
        "catalogue",
        f"cold catalogue page, realistic mix ({len(urls)} URLs, cache off): median time / "
        "slowest / most queries, in-process",
        f"{median:.1f} ms / {max(times):.0f} ms / {most}",
        "django.test.Client + CaptureQueriesContext over bench.catalogue.catalogue_mix()",
    )
    goal(GOAL_COLD, median <= 30 and most <= 8 and statuses == {200}, detail)


def _server(nocache: bool = False):
    """gunicorn on PORT with the bench's settings, or with the catalogue's caches off."""
    overrides = (
        {"DJANGO_SETTINGS_MODULE": NOCACHE_SETTINGS, "COURSE_CATALOGUE_CACHE_SECONDS": "0"}
        if nocache
        else {}
    )
    return gunicorn(PORT, workers=WORKERS, env_overrides=overrides)


def gunicorn_rate(
    label: str,
    path: str,
    urls: list[str] | None = None,
    script: Path | None = None,
    *,
    section: str = "catalogue",
) -> float:
    """Requests per second of one run on the gunicorn at PORT (after a short
    warm-up), recorded in ``section``; 0 on errors. Shared by bench/api_catalogue.py.

    wrk when it can be had (``urls`` asked at random by ``script``, by default
    _mix_script(urls)), else bench/load.py asking the same URLs."""
    url = f"http://127.0.0.1:{PORT}{path}"
    paths = (lambda i: urls[(i * 7919) % len(urls)]) if urls else None
    if urls and script is None:
        script = _mix_script(urls)
    lua = str(script) if script else None
    throughput(url, 2, 4, lua=lua, paths=paths)  # warm-up
    result = throughput(url, WRK_SECONDS, 4, lua=lua, paths=paths)
    problems = f"{result.non_2xx} answers not 2xx/3xx" if result.non_2xx else ""
    record(
        section,
        f"{label} requests/s (gunicorn, {WORKERS} sync workers, measured by {result.tool})"
        + (" — " + problems if problems else ""),
        f"{result.rps:,.1f}",
        result.command,
    )
    return result.rps if not problems else 0.0


def _share_of_bare(label: str, figure: str, rate: float, bare: float, least: float) -> None:
    """Decide a goal "``rate`` is at least ``least`` of the bare view's", both measured
    back to back on the same gunicorn; undecided (so the bench fails) if the bare
    view's run had errors."""
    if not bare:
        return
    ratio = rate / bare
    goal(label, ratio >= least, f"{ratio:.2%} ({rate:,.1f} / {bare:,.0f} req/s)")
    record(
        "catalogue",
        f"{figure} (goal ≥ {least:.0%})",
        f"{ratio:.2%}",
        "ratio of the two runs above (the same gunicorn)",
    )


def _mix_script(urls: list[str]) -> Path:
    """A wrk script asking the mix's URLs at random (each thread its own sequence)."""
    quoted = ",\n".join(f'  "{url}"' for url in urls)
    lua = Path(tempfile.mkdtemp()) / "catalogue_mix.lua"
    lua.write_text(
        f"local urls = {{\n{quoted}\n}}\n"
        "local counter = 1\n"
        "function setup(thread) thread:set('id', counter); counter = counter + 1 end\n"
        "function init(args) math.randomseed(7919 * id) end\n"
        "request = function() return wrk.format(nil, urls[math.random(#urls)]) end\n",
        encoding="utf-8",
    )
    return lua


# --- 1. catalogue throughput under gunicorn vs a bare view ---------------------------------


def bench_catalogue() -> None:
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    catalogue_dataset()
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
            "django.test.Client + CaptureQueriesContext (bench/catalogue.py)",
        )
        reset_queries()
    urls = catalogue_mix(MIX_URLS)
    _cold_pages(urls[:COLD_URLS])
    cache.clear()
    with _server():
        bare = gunicorn_rate("bare view", "/bench/bare/")
        cached = gunicorn_rate("catalogue landing page (cached)", "/courses/")
    _share_of_bare(GOAL_CACHED, "catalogue / bare view throughput", cached, bare, 0.5)
    script = _mix_script(urls)
    with _server(nocache=True):
        bare = gunicorn_rate("bare view (catalogue cache off)", "/bench/bare/")
        mixed = gunicorn_rate(
            f"catalogue, realistic mix of {len(urls):,} URLs, nothing reused",
            "/courses/",
            urls,
            script,
        )
    _share_of_bare(
        GOAL_UNCACHED, "catalogue with nothing reused / bare view throughput", mixed, bare, 0.05
    )
    cache.clear()


# --- 1a. the catalogue's keyword search at 20,000 courses ---------------------------------

SEARCH_QUERIES = [
    ("沟通技巧", "two two-character words"),
    ("亲子沟通", "a domain word, also matched by its parts"),
    ("青春期 叛逆 手机管理", "three words"),
    ("家庭 学校 社区 孩子", "four words every course has"),
    ("天文望远镜", "no course matches"),
    ("爱", "one character: no index can help, a scan"),
]


def bench_search() -> None:
    """The catalogue with a keyword search, cache cold, at the data set's 20,000
    courses, with the realistic texts and themes of reports/scale.py (enriched
    once, see catalogue_dataset)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from courses import search
    from courses.selectors import course_catalogue

    catalogue_dataset()
    client = Client()
    started = time.perf_counter()
    search.search_words("预热")
    record(
        "search",
        "jieba dictionary and the domain words, loaded once per process (first search)",
        f"{(time.perf_counter() - started) * 1000:.0f} ms",
        "courses.search.search_words, timed in bench/catalogue.py",
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
            "django.test.Client + CaptureQueriesContext (bench/catalogue.py)",
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
                "django.test.Client + CaptureQueriesContext (bench/catalogue.py)",
            )
    cache.clear()
