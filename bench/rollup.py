"""The participation roll-up against its SQL floor."""

from __future__ import annotations

import time

from bench.harness import (
    goal,
    record,
)

GOAL_FULL = "Nightly full roll-up ≤ 1.5× its SQL floor"


# --- 3. roll-up vs its SQL floor ---------------------------------------------------------


def bench_rollup() -> None:
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
    goal(GOAL_FULL, rollup_s / floor_s <= 1.5, f"{rollup_s / floor_s:.2f}×, {rollup_s:.1f} s")
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
        "roll-up / SQL floor (goal ≤ 1.5×)",
        f"{rollup_s / floor_s:.2f}×",
        "ratio of the two figures above",
    )
    record(
        "roll-up",
        f"roll-up / its largest single aggregate ({biggest}) — for reference",
        f"{rollup_s / each[biggest]:.2f}×",
        "ratio, same run",
    )
