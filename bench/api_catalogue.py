"""The API's catalogue (``GET /api/v1/catalogue/courses``) under gunicorn, against
the HTML catalogue page and the bare view, and its queries cold.

The API answers the same question as the page (courses.selectors' one counting
statement) but pages by a keyset cursor and writes JSON instead of a template.
With the catalogue's caches on, both share their content for
COURSE_CATALOGUE_CACHE_SECONDS (the page its rendered body and, for anonymous
visitors, the whole page; the API its answer); with them off (bench/
settings_nocache.py) each request runs the counting statement: the goal compares
the two on the same mix of questions, each first page.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from bench.catalogue import (
    NOCACHE_SETTINGS,
    PORT,
    WORKERS,
    _median,
    catalogue_dataset,
    catalogue_mix,
    gunicorn_rate,
    timed_requests,
)
from bench.harness import goal, gunicorn, record

API_PATH = "/api/v1/catalogue/courses"
GOAL_API_MIX = "API catalogue ≥ 50% of the HTML catalogue's throughput, nothing reused by either"
GOAL_API_QUERIES = "API catalogue cold ≤ 8 queries"
GOALS = [GOAL_API_MIX, GOAL_API_QUERIES]
MIX_URLS = 2000  # distinct questions of the mix handed to the load tool
COLD_URLS = 50  # of them, measured in-process one by one
# The bench asks thousands of requests a second from one address: the API's rate
# limits (api/ratelimit.py) must not answer 429 to its own measurement.
UNLIMITED = str(10**9)
WARM_SEARCH = "/courses/?q=%E9%A2%84%E7%83%AD"  # 预热: loads jieba in the worker
RATE_ENV = {"API_RATE_PER_IP": UNLIMITED, "API_RATE_PER_TOKEN": UNLIMITED}


def first_pages(page_urls: list[str]) -> list[str]:
    """The mix's URLs without their page number: the first page of each question."""
    firsts = []
    for url in page_urls:
        parts = urlsplit(url)
        kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"]
        firsts.append(f"{parts.path}?{urlencode(kept)}")
    return firsts


def api_url(page_url: str) -> str:
    """The API's URL for the page's (``/courses/?q=…``): the same filters and search,
    the same 12 courses (the first answer; later ones follow its cursor)."""
    parts = urlsplit(page_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"]
    return f"{API_PATH}?{urlencode([*kept, ('limit', '12')])}"


def _rate(label: str, path: str, urls: list[str] | None = None) -> float:
    """The catalogue bench's measured run, recorded in the API's section."""
    return gunicorn_rate(label, path, urls, section="api")


def _warm(paths: list[str], rounds: int = 3) -> None:
    """Every worker past its first requests before a measured run: a sync worker
    loads the URLconf, the API's schemas and jieba's dictionary on its first search
    (several seconds each on a busy machine), which a short wrk warm-up does not
    cover. Two requests per worker at once, each path ``rounds`` times."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def ask(path: str) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=120) as answer:
            answer.read()

    with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
        for _ in range(rounds):
            list(pool.map(ask, [path for path in paths for _ in range(2 * WORKERS)]))


def _ratio(figure: str, rate: float, base: float) -> float | None:
    if not base:
        return None
    record("api", figure, f"{rate / base:.2%}", "ratio of the two runs above (the same gunicorn)")
    return rate / base


def _cold_answers(urls: list[str]) -> None:
    """Each API URL once in-process with the catalogue's caches off: median time and
    the most queries (the goal: at most 8, as the page's)."""
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()
    with override_settings(
        COURSE_CATALOGUE_CACHE_SECONDS=0,
        COURSE_FACET_CACHE_SECONDS=0,
        API_RATE_PER_IP=10**9,
        API_RATE_PER_TOKEN=10**9,
    ):
        client.get(f"{API_PATH}?q=预热")  # warm the process (imports, jieba, connections)
        times, queries, statuses = timed_requests(client, urls)
    median, most = _median(times), max(queries)
    record(
        "api",
        f"cold API catalogue answer, realistic mix ({len(urls)} URLs, cache off): median "
        "time / slowest / most queries, in-process",
        f"{median:.1f} ms / {max(times):.0f} ms / {most}",
        "django.test.Client + CaptureQueriesContext over bench.api_catalogue.api_url(mix)",
    )
    goal(
        GOAL_API_QUERIES,
        most <= 8 and statuses == {200},
        f"at most {most} queries over {len(urls)} mixed URLs, median {median:.1f} ms; "
        f"status {sorted(statuses)}",
    )


def bench_api_catalogue() -> None:
    from django.core.cache import cache

    catalogue_dataset()
    page_urls = first_pages(catalogue_mix(MIX_URLS))
    urls = [api_url(url) for url in page_urls]
    _cold_answers(urls[:COLD_URLS])
    cache.clear()
    # The bench's own settings (the catalogue's caches on) for all three.
    with gunicorn(PORT, workers=WORKERS, env_overrides=RATE_ENV):
        _warm(["/courses/", API_PATH, WARM_SEARCH, api_url(WARM_SEARCH)])
        bare = _rate("bare view", "/bench/bare/")
        page = _rate("HTML catalogue landing page (cached)", "/courses/")
        api = _rate("API catalogue, first answer (shared answer)", API_PATH)
    _ratio("API catalogue first answer / bare view throughput, caches on", api, bare)
    _ratio(
        "API catalogue first answer / HTML landing page throughput, caches on (both share "
        "their content; the API also counts each request against its rate limits in Redis)",
        api,
        page,
    )
    # Nothing reused by either: each request runs the catalogue's counting statement.
    env = {**RATE_ENV, "DJANGO_SETTINGS_MODULE": NOCACHE_SETTINGS}
    with gunicorn(PORT, workers=WORKERS, env_overrides=env):
        _warm([WARM_SEARCH, api_url(WARM_SEARCH)])
        page = _rate(
            f"HTML catalogue, realistic mix of {len(page_urls):,} first pages, nothing reused",
            "/courses/",
            page_urls,
        )
        api = _rate(
            f"API catalogue, the same {len(urls):,} questions, nothing reused", API_PATH, urls
        )
    ratio = _ratio(
        "API catalogue / HTML catalogue throughput, nothing reused (goal ≥ 50%)", api, page
    )
    if ratio is not None:
        goal(GOAL_API_MIX, ratio >= 0.5, f"{ratio:.2%} ({api:,.1f} / {page:,.1f} req/s)")
    cache.clear()
