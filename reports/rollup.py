"""The participation roll-up: a handful of aggregate SQL queries, one upsert.

Every figure is computed by the database (GROUP BY, COUNT(DISTINCT …),
SUM(…) FILTER (WHERE …)); Python only merges the aggregated groups, which are a
few per unit and month, never the booking rows. On PostgreSQL each query uses
``GROUPING SETS`` so that one scan yields both the monthly rows and the
whole-term rows; SQLite (the no-server default of ``make run``) gets the same
query twice joined by ``UNION ALL``.

What the figures mean is documented in docs/REPORTS.md ("Definitions").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from bookings.models import Booking, BookingAttendee, Offering
from courses.models import Course, CourseSession, CreditEntry, LessonProgress, OnlineLesson
from events.models import Event
from parent_school.models import Instructor, ParentSchool, Target, Term

from .models import TERM_PERIOD

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_SESSIONS_REQUIRED = 10

T = {
    "offering": Offering._meta.db_table,
    "booking": Booking._meta.db_table,
    "attendee": BookingAttendee._meta.db_table,
    "session": CourseSession._meta.db_table,
    "course": Course._meta.db_table,
    "course_instructors": Course.instructors.through._meta.db_table,
    "instructor": Instructor._meta.db_table,
    "parent_school": ParentSchool._meta.db_table,
    "target": Target._meta.db_table,
    "event": Event._meta.db_table,
    "credit": CreditEntry._meta.db_table,
    "progress": LessonProgress._meta.db_table,
    "lesson": OnlineLesson._meta.db_table,
}


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def month_sql(column: str) -> str:
    """The Shanghai calendar month of a UTC timestamp column, as 'YYYY-MM'."""
    if _is_postgres():
        return f"to_char({column} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
    # Shanghai has had no daylight saving since 1991: +8 hours is exact.
    return f"substr(datetime({column}, '+8 hours'), 1, 7)"


def hours_sql(start: str, end: str) -> str:
    if _is_postgres():
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"
    return f"((julianday({end}) - julianday({start})) * 24.0)"


def _param(value):
    return (
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, dt.datetime) else value
    )


def term_window(term: Term) -> tuple[dt.datetime, dt.datetime]:
    """The term as [start, end) in UTC-aware datetimes, from Shanghai dates."""
    start = dt.datetime.combine(term.starts_on, dt.time.min, tzinfo=SHANGHAI)
    end = dt.datetime.combine(term.ends_on + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)
    return start, end


def scoped_cte(term: Term, now: dt.datetime) -> tuple[str, list]:
    """The term's offerings: course sessions of its courses, events inside its dates."""
    start, end = term_window(term)
    live = "o.status <> 'cancelled' AND (e.id IS NULL OR e.status NOT IN ('draft', 'cancelled'))"
    sql = f"""
    scoped AS (
        SELECT o.id AS offering_id,
               o.kind AS kind,
               COALESCE(ps.host_unit_id, o.unit_id) AS unit_id,
               c.parent_school_id AS parent_school_id,
               {month_sql("o.starts_at")} AS period,
               ({live}) AS live,
               ({live} AND o.starts_at <= %s) AS held,
               {hours_sql("o.starts_at", "o.ends_at")} AS hours
          FROM {T["offering"]} o
          LEFT JOIN {T["session"]} cs ON cs.offering_id = o.id
          LEFT JOIN {T["course"]} c ON c.id = cs.course_id
          LEFT JOIN {T["parent_school"]} ps ON ps.id = c.parent_school_id
          LEFT JOIN {T["event"]} e ON e.offering_id = o.id
         WHERE (o.kind = 'course_session' AND c.term_id = %s)
            OR (o.kind = 'event' AND o.starts_at >= %s AND o.starts_at < %s)
    )"""
    return sql, [_param(now), term.pk, _param(start), _param(end)]


def _grouped(
    select: str, body: str, params: list, keys=("unit_id", "parent_school_id")
) -> tuple[str, list]:
    """``SELECT keys, period, <select> <body>`` grouped by month and by term."""
    key_list = ", ".join(keys)
    if _is_postgres():
        sql = (
            f"SELECT {key_list}, COALESCE(period, '{TERM_PERIOD}') AS period, {select} {body} "
            f"GROUP BY GROUPING SETS (({key_list}, period), ({key_list}))"
        )
        return sql, params
    monthly = f"SELECT {key_list}, period, {select} {body} GROUP BY {key_list}, period"
    whole = f"SELECT {key_list}, '{TERM_PERIOD}' AS period, {select} {body} GROUP BY {key_list}"
    return f"{monthly} UNION ALL {whole}", params + params


def _with_scoped(term: Term, now: dt.datetime, select: str, body: str) -> tuple[str, list]:
    cte, cte_params = scoped_cte(term, now)
    inner, inner_params = _grouped(select, body, [])
    if _is_postgres():
        return f"WITH {cte} {inner}", cte_params
    # SQLite: the CTE is shared by both halves of the UNION ALL.
    monthly, whole = inner.split(" UNION ALL ")
    return f"WITH {cte} {monthly} UNION ALL {whole}", cte_params


# --- the queries ----------------------------------------------------------------

OFFERINGS_SELECT = """
    COUNT(*) FILTER (WHERE kind = 'course_session' AND live) AS sessions_planned,
    COUNT(*) FILTER (WHERE kind = 'course_session' AND held) AS sessions_held,
    COUNT(*) FILTER (WHERE kind = 'event' AND held) AS events_held"""

# "Took part" means one thing in every figure below: a confirmed booking of a
# held offering (course session or event) marked present. Families, children,
# person-times and event participants all count from it, so a dashboard can
# never show families covered without person-times (docs/REPORTS.md, "Definitions").
PRESENT = "s.held AND b.attendance = 'present'"

BOOKINGS_SELECT = f"""
    COUNT(*) FILTER (WHERE s.kind = 'course_session') AS enrolments,
    COUNT(*) FILTER (WHERE s.kind = 'course_session' AND s.held) AS enrolments_held,
    COUNT(*) FILTER (WHERE s.kind = 'course_session' AND {PRESENT}) AS attendances,
    COALESCE(SUM(b.party_size) FILTER (WHERE {PRESENT}), 0) AS person_times,
    COUNT(DISTINCT b.family_id) FILTER (WHERE {PRESENT}) AS families,
    COALESCE(SUM(b.party_size) FILTER (WHERE s.kind = 'event' AND {PRESENT}), 0)
        AS event_participants"""


def bookings_aggregate_sql(term: Term, now: dt.datetime) -> tuple[str, list]:
    """The biggest of the roll-up's queries (the "SQL floor" in docs/PERFORMANCE.md)."""
    body = (
        f"FROM scoped s JOIN {T['booking']} b ON b.offering_id = s.offering_id "
        "WHERE b.status = 'confirmed' AND s.live"
    )
    return _with_scoped(term, now, BOOKINGS_SELECT, body)


def _queries(term: Term, now: dt.datetime) -> list[tuple[str, list[str], str, list]]:
    """(name, metric columns, sql, params) of every roll-up query."""
    queries = []
    sql, params = _with_scoped(term, now, OFFERINGS_SELECT, "FROM scoped WHERE live")
    queries.append(("offerings", ["sessions_planned", "sessions_held", "events_held"], sql, params))

    sql, params = bookings_aggregate_sql(term, now)
    queries.append(
        (
            "bookings",
            [
                "enrolments",
                "enrolments_held",
                "attendances",
                "person_times",
                "families",
                "event_participants",
            ],
            sql,
            params,
        )
    )

    body = (
        f"FROM scoped s JOIN {T['booking']} b ON b.offering_id = s.offering_id "
        f"JOIN {T['attendee']} a ON a.booking_id = b.id "
        f"WHERE b.status = 'confirmed' AND s.live AND {PRESENT} AND a.child_id IS NOT NULL"
    )
    sql, params = _with_scoped(term, now, "COUNT(DISTINCT a.child_id) AS children", body)
    queries.append(("children", ["children"], sql, params))

    body = (
        "FROM (SELECT s.unit_id, s.parent_school_id, s.period, s.hours FROM scoped s "
        f"JOIN {T['session']} cs ON cs.offering_id = s.offering_id "
        f"JOIN {T['course_instructors']} ci ON ci.course_id = cs.course_id "
        f"JOIN {T['instructor']} i ON i.id = ci.instructor_id "
        "WHERE s.held AND i.is_volunteer) x"
    )
    sql, params = _with_scoped(term, now, "SUM(hours) AS volunteer_hours", body)
    queries.append(("volunteers", ["volunteer_hours"], sql, params))

    # Credits and online lessons have no offering: their unit is the parent
    # school's host unit and their month the month they were posted/completed.
    credit_from = (
        f"FROM (SELECT ps.host_unit_id AS unit_id, c.parent_school_id AS parent_school_id, "
        f"{month_sql('ce.created_at')} AS period, ce.amount AS amount "
        f"FROM {T['credit']} ce JOIN {T['course']} c ON c.id = ce.course_id "
        f"JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
        "WHERE ce.term_id = %s) x"
    )
    sql, params = _grouped("SUM(amount) AS credits_posted", credit_from, [term.pk])
    queries.append(("credits", ["credits_posted"], sql, params))

    lesson_from = (
        f"FROM (SELECT ps.host_unit_id AS unit_id, c.parent_school_id AS parent_school_id, "
        f"{month_sql('lp.completed_at')} AS period "
        f"FROM {T['progress']} lp JOIN {T['lesson']} l ON l.id = lp.lesson_id "
        f"JOIN {T['course']} c ON c.id = l.course_id "
        f"JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
        "WHERE c.term_id = %s AND lp.completed_at IS NOT NULL) x"
    )
    sql, params = _grouped("COUNT(*) AS lessons_completed", lesson_from, [term.pk])
    queries.append(("lessons", ["lessons_completed"], sql, params))
    return queries


def _targets(term: Term) -> dict[int, tuple[int, int]]:
    """parent school id → (host unit id, sessions required) for the term."""
    sql = (
        f"SELECT ps.id, ps.host_unit_id, COALESCE(t.sessions_required, %s) "
        f"FROM {T['parent_school']} ps "
        f"LEFT JOIN {T['target']} t ON t.parent_school_id = ps.id AND t.term_id = %s "
        "WHERE ps.is_active OR t.id IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [DEFAULT_SESSIONS_REQUIRED, term.pk])
        return {ps_id: (unit_id, required) for ps_id, unit_id, required in cursor.fetchall()}


def reporting_session(cursor) -> None:
    """Planner settings for the roll-up's few big aggregates (this transaction only).

    At district scale the planner underestimates the term's bookings and picks a
    nested loop of index probes (one per offering); hash joins over a sequential
    scan are about twice as fast. More work_mem keeps the GROUPING SETS sort in
    memory, and JIT compilation costs more than it saves on these queries.
    """
    if _is_postgres():
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")


ONE_DECIMAL = Decimal("0.1")


def _rate(attendances: int, enrolments_held: int) -> Decimal | None:
    if not enrolments_held:
        return None
    return (Decimal(attendances) * 100 / Decimal(enrolments_held)).quantize(
        ONE_DECIMAL, rounding=ROUND_HALF_UP
    )


def compute_term_figures(
    *, term: Term, now: dt.datetime, progress: Callable[[int, int], None] | None = None
) -> list[dict]:
    """Run the aggregate queries; return one dict of figures per snapshot key."""
    queries = _queries(term, now)
    total_steps = len(queries) + 1
    groups: dict[tuple, dict] = {}
    with connection.cursor() as cursor:
        for step, (_name, metrics, sql, params) in enumerate(queries, start=1):
            # Each query in its own short transaction, so that the job's progress
            # (written between them) is visible at once.
            with transaction.atomic():
                reporting_session(cursor)
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            for row in rows:
                unit_id, ps_id, period = row[0], row[1], row[2]
                figures = groups.setdefault((unit_id, ps_id, period), {})
                for metric, value in zip(metrics, row[3:], strict=True):
                    figures[metric] = value or 0
            if progress:
                progress(step, total_steps)

    targets = _targets(term)
    for ps_id, (unit_id, _required) in targets.items():
        # Every active parent school has a term row, so one that held no
        # session still shows up (as not met) in the attainment table.
        groups.setdefault((unit_id, ps_id, TERM_PERIOD), {})
    if progress:
        progress(total_steps, total_steps)

    result = []
    for (unit_id, ps_id, period), figures in groups.items():
        if unit_id is None:
            continue
        row = {
            "unit_id": unit_id,
            "parent_school_id": ps_id,
            "period": period,
            "month": None
            if period == TERM_PERIOD
            else dt.date(int(period[:4]), int(period[5:7]), 1),
        }
        for metric in (
            "sessions_planned",
            "sessions_held",
            "events_held",
            "enrolments",
            "enrolments_held",
            "attendances",
            "person_times",
            "families",
            "children",
            "event_participants",
            "lessons_completed",
        ):
            row[metric] = int(figures.get(metric, 0))
        row["credits_posted"] = Decimal(figures.get("credits_posted", 0) or 0).quantize(ONE_DECIMAL)
        row["volunteer_hours"] = Decimal(str(figures.get("volunteer_hours", 0) or 0)).quantize(
            ONE_DECIMAL, rounding=ROUND_HALF_UP
        )
        row["attendance_rate"] = _rate(row["attendances"], row["enrolments_held"])
        if ps_id is not None and period == TERM_PERIOD:
            required = targets.get(ps_id, (unit_id, DEFAULT_SESSIONS_REQUIRED))[1]
            row["target_sessions"] = required
            row["target_met"] = row["sessions_held"] >= required
        else:
            row["target_sessions"] = None
            row["target_met"] = None
        result.append(row)
    return result
