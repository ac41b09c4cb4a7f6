"""互助交流 at scale: a big board's thread list and a long thread's page, queries
and time at 1× and 10× the size; and the sensitive-word check of a 2,000-character
post against a 10,000-word list.

The data is generate_scale_data's (reports/scale.py, ``community_generate``): at
district-large 2,000 boards with 500,000 posts in 50,000 threads. Every tenth
thread is on the first parent school's board (the big board, ~5,000 threads),
every hundredth on the second's (~500: a tenth of it), and a tenth of the
replies go to a hundred long threads of the big board (~460 replies each, against
~9 on an ordinary thread).
"""

from __future__ import annotations

import random
import statistics
import time

from bench.harness import BenchError, goal, record

GOAL_PAGE_QUERIES = (
    "A board's thread list and a thread page: the same queries at 1× and 10× the size"
)
GOAL_WORD_CHECK = (
    "Sensitive-word check of a 2,000-character post against 10,000 words < 5 ms (median)"
)
PAGE_GOALS = [GOAL_PAGE_QUERIES]
WORD_GOALS = [GOAL_WORD_CHECK]
RUNS = 5  # timed page loads (after one to warm), the median recorded
CHECK_RUNS = 300  # timed word checks (after ten to warm), the median recorded
WORDS = 10_000
POST_CHARS = 2_000
WORD_CHECK_LIMIT_MS = 5.0


def _median_ms(fn, runs: int = RUNS, warm: int = 1) -> float:
    for _ in range(warm):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _scale_boards():
    """The two first generated parent schools' boards: the big one and a tenth of it."""
    from community.models import Board

    boards = list(
        Board.objects.filter(kind=Board.Kind.SCHOOL, parent_school__name__startswith="规模测试")
        .select_related("parent_school")
        .order_by("pk")[:2]
    )
    if len(boards) < 2:
        raise BenchError(
            "no scale boards: the data set predates the boards; run "
            "`manage.py generate_scale_data` again (it adds them) and make bench"
        )
    return boards


def _parent_of(board):
    """A guardian whose child is at the board's school's host unit (a reader of it)."""
    from members.models import Guardian

    guardian = (
        Guardian.objects.filter(
            family__children__school_id=board.parent_school.host_unit_id, user__is_active=True
        )
        .select_related("user")
        .order_by("pk")
        .first()
    )
    if guardian is None:
        raise BenchError(f"no family at {board.parent_school.name}")
    return guardian.user


def _page(client, url: str) -> tuple[int, float, int]:
    """Queries (second load), median time, and the status of a GET."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        status = client.get(url).status_code
    # Counted now: captured_queries reads the connection's log, which the next
    # requests reset.
    queries = len(ctx.captured_queries)
    ms = _median_ms(lambda: client.get(url))
    return queries, ms, status


def bench_board_pages() -> None:
    """GET a board's first page and its last page at 1× and 10× the threads, and a
    thread's first and last page for an ordinary and a long thread, as a parent of
    the school (django.test.Client: the view, selectors, template, no network)."""
    from django.test import Client
    from django.urls import reverse

    from community.models import Post, Thread
    from community.selectors import THREADS_PER_PAGE

    big, small = _scale_boards()
    counts: dict[str, list[int]] = {"board": [], "thread": []}
    for label, board in (("1×", small), ("10×", big)):
        threads = Thread.objects.filter(board=board, status=Post.Status.PUBLISHED).count()
        client = Client()
        client.force_login(_parent_of(board))
        last = max(1, -(-threads // THREADS_PER_PAGE))
        for page_label, page in (("first page", 1), (f"page {last} (the last)", last)):
            url = reverse("community:board", args=[board.pk]) + f"?page={page}"
            queries, ms, status = _page(client, url)
            counts["board"].append(queries)
            record(
                "community",
                f"board thread list, {label} ({threads:,} threads), {page_label} "
                f"(status {status}): queries / median time",
                f"{queries} / {ms:.0f} ms",
                "django.test.Client GET /community/boards/<id>/?page=… as a parent of the "
                "school + CaptureQueriesContext (bench/community.py)",
            )
    client = Client()
    client.force_login(_parent_of(big))
    longest = (
        Thread.objects.filter(board=big, status=Post.Status.PUBLISHED)
        .order_by("-reply_count", "pk")
        .first()
    )
    # Alike but for the size: an accepted answer is one more read whatever the size.
    ordinary = (
        Thread.objects.filter(
            board=big,
            status=Post.Status.PUBLISHED,
            reply_count__gt=0,
            accepted_post__isnull=longest.accepted_post_id is None,
        )
        .order_by("reply_count", "pk")
        .first()
    )
    for thread in (ordinary, longest):
        for page_label, page in (("first page", "1"), ("last page", "last")):
            url = reverse("community:thread", args=[thread.pk]) + f"?page={page}"
            queries, ms, status = _page(client, url)
            counts["thread"].append(queries)
            record(
                "community",
                f"thread page, {thread.reply_count:,} replies, {page_label} (status {status}): "
                "queries / median time",
                f"{queries} / {ms:.0f} ms",
                "django.test.Client GET /community/threads/<id>/?page=… as a parent "
                "+ CaptureQueriesContext (bench/community.py)",
            )
    same = all(len(set(values)) == 1 for values in counts.values())
    _measures()
    goal(
        GOAL_PAGE_QUERIES,
        same,
        f"board list {sorted(set(counts['board']))} and thread page "
        f"{sorted(set(counts['thread']))} queries",
    )


def word_list(n: int = WORDS, seed: int = 16) -> list[tuple[str, str, bool]]:
    """A deterministic district-size list: a few real-looking entries and Han words
    of 3–5 characters (pinyin matching on for every word, as the default is)."""
    from community.models import SensitiveWord

    categories = [c for c, _label in SensitiveWord.Category.choices]
    rows = [
        ("加微信", "ads", True),
        ("代购", "ads", True),
        ("刷单", "fraud", True),
        ("网络赌场", "gambling", True),
    ]
    rng = random.Random(seed)
    seen = {word for word, _c, _p in rows}
    while len(rows) < n:
        # Three to five characters: random two-character words would sound like
        # half of any long text (their pinyin covers common syllable pairs).
        word = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(3, 5)))
        if word not in seen:
            seen.add(word)
            rows.append((word, categories[len(rows) % len(categories)], True))
    return rows


def parent_post(chars: int = POST_CHARS, tail: str = "") -> str:
    """A parent's long post: the scale data's phrases, a link and some digits."""
    from reports.scale import _POST_PHRASES

    text, i = "", 0
    while len(text) < chars - len(tail):
        text += _POST_PHRASES[i % len(_POST_PHRASES)]
        if i % 9 == 8:
            text += "\n参考 https://example.cn/jiating/2026 第3课。\n"
        i += 1
    return text[: chars - len(tail)] + tail


def bench_word_check() -> None:
    """community.filtering.Matcher: build it from 10,000 words once, then check a
    2,000-character post (no hit, a literal hit, a pinyin hit) many times."""
    from community.filtering import Matcher

    rows = word_list()
    started = time.perf_counter()
    matcher = Matcher.from_words(rows)
    build_ms = (time.perf_counter() - started) * 1000
    record(
        "community",
        f"sensitive-word matcher built from {len(rows):,} words (once per process and list "
        "version)",
        f"{build_ms:.0f} ms",
        "community.filtering.Matcher.from_words(bench.community.word_list()) (bench/community.py)",
    )
    cases = [
        ("ordinary text", parent_post()),
        ("a listed word at the end", parent_post(tail="可以加微信")),
        ("a listed word in pinyin at the end", parent_post(tail="可以 jia wei xin 联系")),
    ]
    worst = 0.0
    for label, text in cases:
        result = matcher.check(text)
        ms = _median_ms(lambda text=text: matcher.check(text), runs=CHECK_RUNS, warm=10)
        worst = max(worst, ms)
        record(
            "community",
            f"check of a {len(text):,}-character post, {label} (hit: {result.hit}), "
            f"median of {CHECK_RUNS}",
            f"{ms:.2f} ms",
            "community.filtering.Matcher.check(text) (bench/community.py)",
        )
    goal(
        GOAL_WORD_CHECK,
        worst < WORD_CHECK_LIMIT_MS,
        f"slowest median {worst:.2f} ms of {WORD_CHECK_LIMIT_MS:.0f} ms",
    )


def _measures() -> None:
    """The school dashboards' 互助交流 figures (community.selectors.board_measures) of
    every generated parent school at once, in the current term."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from community.models import Board
    from community.selectors import board_measures
    from parent_school.models import Term
    from parent_school.selectors import term_window

    since, until = term_window(Term.objects.get(is_current=True))
    schools = list(
        Board.objects.filter(kind=Board.Kind.SCHOOL).values_list("parent_school_id", flat=True)
    )

    def measure():
        return board_measures(parent_school_ids=schools, since=since, until=until)

    with CaptureQueriesContext(connection) as ctx:
        result = measure()
    queries = len(ctx.captured_queries)
    asked = sum(m.asked for m in result.values())
    ms = _median_ms(measure)
    record(
        "community",
        f"board_measures of {len(schools):,} parent schools in the term ({asked:,} questions): "
        "queries / median time",
        f"{queries} / {ms:.0f} ms",
        "community.selectors.board_measures(parent_school_ids=…, since=…, until=…) "
        "(bench/community.py)",
    )
