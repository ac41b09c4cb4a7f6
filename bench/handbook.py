"""The growth handbook at scale: the verifier's queue page, the parent's handbook
page, and the learning-family computation of the whole district against the one
SQL query it is built on.

The data is generate_scale_data's (reports/scale.py, ``handbook_generate``): at
district-large about 1.5 million claims by hand and 0.2 million from attendance
in the current term, 75 % of the families claiming.
"""

from __future__ import annotations

import statistics
import time

from bench.harness import SEED, BenchError, goal, record

GOAL_QUEUE_QUERIES = "Verifier's queue page: a later page costs the same queries as the first"
GOAL_PAGE_QUERIES = (
    "Parent's handbook page: the family with the most claims costs the same queries as one "
    "with a single claim"
)
GOAL_LF_RATIO = "Learning families of the whole district ≤ 2× the bare SQL query"
GOAL_LF_TIME = "Learning families of the whole district < 60 s"
QUEUE_GOALS = [GOAL_QUEUE_QUERIES]
PAGE_GOALS = [GOAL_PAGE_QUERIES]
LF_GOALS = [GOAL_LF_RATIO, GOAL_LF_TIME]
RUNS = 5  # timed requests per page (after one to warm), the median recorded


def _path(name: str, fallback: str, *args) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def _timed_page(client, url: str) -> tuple[int, float, int]:
    """Queries of one request (after a warming one), the median time of RUNS, the status."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        status = client.get(url).status_code
    # Counted now: the next request's request_started empties the log it slices.
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    return queries, statistics.median(times) * 1000, status


def _user(username: str):
    from members.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise BenchError(f"no user {username}: generate_scale_data --seed {SEED} makes it")
    return user


# --- the verifier's queue -------------------------------------------------------------------


def bench_handbook_queue() -> None:
    """/handbook/review/ as a unit coordinator (one school's queue) and as an
    alliance coordinator (every unit of the alliance), first page and a later one."""
    from django.test import Client

    from handbook.models import Claim

    base = _path("handbook:review", "/handbook/review/")
    verifiers = [
        ("unit coordinator", _user(f"scale_unit1_{SEED}")),
        ("alliance coordinator", _user(f"scale_alliance1_{SEED}")),
    ]
    same = True
    details = []
    for role, user in verifiers:
        client = Client()
        client.force_login(user)
        first_q, first_ms, first_status = _timed_page(client, base)
        later = 5
        later_q, later_ms, later_status = _timed_page(client, f"{base}?page={later}")
        if first_status != 200 or later_status != 200:
            raise BenchError(f"{base} answered {first_status}/{later_status} to a {role}")
        pending = Claim.objects.filter(status=Claim.Status.PENDING).count()
        record(
            "handbook",
            f"GET {base} as {role} ({pending:,} pending claims in the district): "
            "queries / median time, first page",
            f"{first_q} / {first_ms:.0f} ms",
            "django.test.Client + CaptureQueriesContext (bench/handbook.py)",
        )
        record(
            "handbook",
            f"GET {base}?page={later} as {role}: queries / median time",
            f"{later_q} / {later_ms:.0f} ms",
            "same",
        )
        same = same and first_q == later_q
        details.append(f"{role}: {first_q} and {later_q} queries")
    goal(GOAL_QUEUE_QUERIES, same, "; ".join(details))


# --- the parent's handbook page -------------------------------------------------------------


def bench_handbook_page() -> None:
    """/handbook/ of the family with the most claims this term, against a family
    with a single claim."""
    from django.db.models import Count
    from django.test import Client

    from handbook.models import Claim
    from members.models import Guardian
    from parent_school.models import Term

    term = Term.objects.get(is_current=True)
    per_family = Claim.objects.filter(term=term).values("family").annotate(n=Count("pk")).order_by()
    busiest = per_family.order_by("-n", "family").first()
    single = per_family.filter(n=1).order_by("family").first()
    if busiest is None:
        raise BenchError("no handbook claims in the current term: generate_scale_data adds them")
    url = _path("handbook:home", "/handbook/")
    results = {}
    for label, row in (("most claims", busiest), ("a single claim", single)):
        if row is None:
            continue
        guardian = Guardian.objects.filter(family_id=row["family"]).select_related("user").first()
        client = Client()
        client.force_login(guardian.user)
        queries, ms, status = _timed_page(client, url)
        if status != 200:
            raise BenchError(f"{url} answered {status} to a parent")
        results[label] = queries
        record(
            "handbook",
            f"GET {url} as the parent of the family with {label} ({row['n']} this term): "
            "queries / median time",
            f"{queries} / {ms:.0f} ms",
            "django.test.Client + CaptureQueriesContext (bench/handbook.py)",
        )
    if "a single claim" not in results:
        # Every family claims ten times by hand: compare with a family of none.
        guardian = (
            Guardian.objects.exclude(family__handbook_claims__term=term)
            .select_related("user")
            .first()
        )
        client = Client()
        client.force_login(guardian.user)
        queries, ms, _status = _timed_page(client, url)
        results["no claim"] = queries
        record(
            "handbook",
            f"GET {url} as the parent of a family with no claim: queries / median time",
            f"{queries} / {ms:.0f} ms",
            "same",
        )
    counts = list(results.values())
    goal(
        GOAL_PAGE_QUERIES,
        len(set(counts)) == 1,
        ", ".join(f"{label}: {n} queries" for label, n in results.items()),
    )


# --- learning families of the whole district -------------------------------------------------


def bench_learning_families() -> None:
    """recognition.services.learning_families_compute for every alliance of the
    district (each one statement for every unit of the alliance, upserting its
    entries), against the query it is built on (recognition.computation
    .figures_sql with the same parameters) run bare through a cursor: the
    families' figures fetched, nothing written."""
    from django.db import connection, transaction

    from parent_school.models import Term
    from recognition import computation
    from recognition.models import LearningFamilyList, LearningFamilyRule
    from recognition.services import learning_families_compute

    term = Term.objects.get(is_current=True)
    rules = list(LearningFamilyRule.objects.filter(term=term).order_by("alliance_id"))
    if not rules:
        raise BenchError(
            "no learning-family rule for the current term: generate_scale_data adds one "
            "per alliance"
        )
    # A published list is refused (as at term end): the bench computes drafts only.
    LearningFamilyList.objects.filter(term=term, status="published").update(status="draft")
    sql = computation.figures_sql(families="alliance")

    def floor() -> tuple[float, int]:
        rows = 0
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for rule in rules:
                params = computation.figures_params(
                    rule=rule, term=term, alliance_id=rule.alliance_id, list_id=0
                )
                with transaction.atomic():
                    cursor.execute(sql, params)
                    rows += len(cursor.fetchall())
        return time.perf_counter() - started, rows

    # Warm the cache for both (a computation of a draft list is idempotent: the
    # same entries are refreshed).
    floor()
    for rule in rules:
        learning_families_compute(alliance_id=rule.alliance_id, term_id=term.pk)
    floor_s, rows = floor()
    started = time.perf_counter()
    included = 0
    for rule in rules:
        result = learning_families_compute(alliance_id=rule.alliance_id, term_id=term.pk)
        included += result.included
    compute_s = time.perf_counter() - started
    ratio = compute_s / floor_s if floor_s else float("inf")
    record(
        "handbook",
        f"learning families, bare SQL: recognition.computation.figures_sql for each of "
        f"{len(rules)} alliances ({rows:,} families) of term {term.code}",
        f"{floor_s:.2f} s",
        "cursor.execute(figures_sql(), figures_params(...)) + fetchall (bench/handbook.py)",
    )
    record(
        "handbook",
        f"learning families computed for the whole district ({included:,} qualifying; "
        "entries upserted)",
        f"{compute_s:.2f} s",
        "recognition.services.learning_families_compute(alliance_id=…, term_id=…) per alliance",
    )
    record("handbook", "computation / bare SQL (goal ≤ 2×)", f"{ratio:.2f}×", "ratio of the two")
    goal(GOAL_LF_RATIO, ratio <= 2, f"{ratio:.2f}×")
    goal(GOAL_LF_TIME, compute_s < 60, f"{compute_s:.1f} s")
