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

from django.conf import settings
from django.db import connection, transaction

from bookings.models import Booking, BookingAttendee, Offering
from courses.models import Course, CourseSession, CreditEntry, LessonProgress, OnlineLesson
from events.models import Event
from parent_school.models import Instructor, ParentSchool, Target, Term
from parent_school.selectors import term_window

from .models import TERM_PERIOD

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


def _in(column: str, values) -> tuple[str, list]:
    """``column IN (%s, …)`` (both backends), or a false condition for no values."""
    values = sorted(values)
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def _key_parts(keys) -> tuple[list[int], list[int]]:
    """Parent school ids and event units (key 0) of ``keys``."""
    return sorted({p for _u, p in keys if p}), sorted({u for u, p in keys if not p})


def scoped_cte(term: Term, now: dt.datetime, keys=None) -> tuple[str, list]:
    """The term's offerings: course sessions of its courses, events inside its dates.

    ``keys`` (incremental roll-ups) keeps only the offerings of those unit ×
    parent school keys, over the whole term: the term rows need every month.
    """
    start, end = term_window(term)
    live = "o.status <> 'cancelled' AND (e.id IS NULL OR e.status NOT IN ('draft', 'cancelled'))"
    sessions, events, key_params = "", "", []
    if keys is not None:
        school_ids, event_units = _key_parts(keys)
        in_schools, school_params = _in("c.parent_school_id", school_ids)
        in_units, unit_params = _in("o.unit_id", event_units)
        sessions, events = f" AND {in_schools}", f" AND {in_units}"
        key_params = [school_params, unit_params]
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
         WHERE (o.kind = 'course_session' AND c.term_id = %s{sessions})
            OR (o.kind = 'event' AND o.starts_at >= %s AND o.starts_at < %s{events})
    )"""
    if keys is None:
        return sql, [_param(now), term.pk, _param(start), _param(end)]
    school_params, unit_params = key_params
    return sql, [_param(now), term.pk, *school_params, _param(start), _param(end), *unit_params]


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


def _with_scoped(
    term: Term, now: dt.datetime, select: str, body: str, keys=None
) -> tuple[str, list]:
    cte, cte_params = scoped_cte(term, now, keys)
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


def bookings_aggregate_sql(term: Term, now: dt.datetime, keys=None) -> tuple[str, list]:
    """The biggest of the roll-up's queries (the "SQL floor" in docs/PERFORMANCE.md)."""
    body = (
        f"FROM scoped s JOIN {T['booking']} b ON b.offering_id = s.offering_id "
        "WHERE b.status = 'confirmed' AND s.live"
    )
    return _with_scoped(term, now, BOOKINGS_SELECT, body, keys)


def _queries(term: Term, now: dt.datetime, keys=None) -> list[tuple[str, list[str], str, list]]:
    """(name, metric columns, sql, params) of every roll-up query.

    With ``keys`` (an incremental roll-up) every query is the same SQL with the
    offerings, credits and lessons restricted to those unit × parent school keys.
    """
    queries = []
    school_ids = _key_parts(keys)[0] if keys is not None else None
    sql, params = _with_scoped(term, now, OFFERINGS_SELECT, "FROM scoped WHERE live", keys)
    queries.append(("offerings", ["sessions_planned", "sessions_held", "events_held"], sql, params))

    sql, params = bookings_aggregate_sql(term, now, keys)
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
    sql, params = _with_scoped(term, now, "COUNT(DISTINCT a.child_id) AS children", body, keys)
    queries.append(("children", ["children"], sql, params))

    sql, params = volunteer_hours_sql(term, keys)
    queries.append(("volunteers", ["volunteer_hours"], sql, params))

    sql, params = consultations_held_sql(term, keys)
    queries.append(("consultations", ["consultations_held"], sql, params))

    # Credits and online lessons have no offering: their unit is the parent
    # school's host unit and their month the month they were posted/completed.
    school_filter, school_params = "", []
    if school_ids is not None:
        school_filter, school_params = _in("c.parent_school_id", school_ids)
        school_filter = f" AND {school_filter}"
    credit_from = (
        f"FROM (SELECT ps.host_unit_id AS unit_id, c.parent_school_id AS parent_school_id, "
        f"{month_sql('ce.created_at')} AS period, ce.amount AS amount "
        f"FROM {T['credit']} ce JOIN {T['course']} c ON c.id = ce.course_id "
        f"JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
        f"WHERE ce.term_id = %s{school_filter}) x"
    )
    sql, params = _grouped("SUM(amount) AS credits_posted", credit_from, [term.pk, *school_params])
    queries.append(("credits", ["credits_posted"], sql, params))

    lesson_from = (
        f"FROM (SELECT ps.host_unit_id AS unit_id, c.parent_school_id AS parent_school_id, "
        f"{month_sql('lp.completed_at')} AS period "
        f"FROM {T['progress']} lp JOIN {T['lesson']} l ON l.id = lp.lesson_id "
        f"JOIN {T['course']} c ON c.id = l.course_id "
        f"JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
        f"WHERE c.term_id = %s AND lp.completed_at IS NOT NULL{school_filter}) x"
    )
    sql, params = _grouped("COUNT(*) AS lessons_completed", lesson_from, [term.pk, *school_params])
    queries.append(("lessons", ["lessons_completed"], sql, params))
    return queries


def _volunteer_tables() -> dict[str, str]:
    # Imported here, like the handbook's and surveys' tables below.
    from guidance.models import Consultation, Station
    from volunteers.models import ServiceHour

    return {
        "hour": ServiceHour._meta.db_table,
        "consultation": Consultation._meta.db_table,
        "station": Station._meta.db_table,
        "counted": ", ".join(f"'{status}'" for status in ServiceHour.COUNTED),
        "held": Consultation.Status.HELD.value,
    }


def date_month_sql(column: str) -> str:
    """The calendar month of a DATE column, as 'YYYY-MM' (a date has no time zone)."""
    if _is_postgres():
        return f"to_char({column}, 'YYYY-MM')"
    return f"substr({column}, 1, 7)"


def volunteer_hours_sql(term: Term, keys=None) -> tuple[str, list]:
    """志愿服务时长: the volunteers' service-hours record (volunteers.ServiceHour),
    counted rows only (recorded from the portal's records, or entered and
    verified; pending and rejected ones never), of the term, by the month of
    ``served_on``. A row with a parent school counts in that school's row (its
    host unit, as every course figure); one without (an event, a consultation,
    a manual entry) in its unit's row of key 0."""
    t = _volunteer_tables()
    only, params = "", [term.pk]
    if keys is not None:
        school_ids, event_units = _key_parts(keys)
        in_schools, school_params = _in("sh.parent_school_id", school_ids)
        in_units, unit_params = _in("sh.unit_id", event_units)
        only = f" AND ({in_schools} OR (sh.parent_school_id IS NULL AND {in_units}))"
        params += school_params + unit_params
    body = (
        "FROM (SELECT COALESCE(ps.host_unit_id, sh.unit_id) AS unit_id, "
        f"sh.parent_school_id AS parent_school_id, {date_month_sql('sh.served_on')} AS period, "
        f"sh.hours AS hours FROM {t['hour']} sh "
        f"LEFT JOIN {T['parent_school']} ps ON ps.id = sh.parent_school_id "
        f"WHERE sh.term_id = %s AND sh.status IN ({t['counted']}){only}) x"
    )
    return _grouped("SUM(hours) AS volunteer_hours", body, params)


def consultations_held_sql(term: Term, keys=None) -> tuple[str, list]:
    """指导咨询: the guidance station's consultations marked held, counted at the
    station's unit (key 0, beside its events) by the Shanghai month of
    ``held_at``, those held inside the term's dates. Only a count: nothing of
    the family, the child, the need or the notes."""
    t = _volunteer_tables()
    start, end = term_window(term)
    only, params = "", [t["held"], _param(start), _param(end)]
    if keys is not None:
        in_units, unit_params = _in("st.unit_id", _key_parts(keys)[1])
        only = f" AND {in_units}"
        params += unit_params
    body = (
        "FROM (SELECT st.unit_id AS unit_id, CAST(NULL AS BIGINT) AS parent_school_id, "
        f"{month_sql('cn.held_at')} AS period FROM {t['consultation']} cn "
        f"JOIN {t['station']} st ON st.id = cn.station_id "
        f"WHERE cn.status = %s AND cn.held_at >= %s AND cn.held_at < %s{only}) x"
    )
    return _grouped("COUNT(*) AS consultations_held", body, params)


def _targets(term: Term, school_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """parent school id → (host unit id, sessions required) for the term."""
    only, only_params = "", []
    if school_ids is not None:
        only, only_params = _in("ps.id", school_ids)
        only = f" AND {only}"
    sql = (
        f"SELECT ps.id, ps.host_unit_id, COALESCE(t.sessions_required, %s) "
        f"FROM {T['parent_school']} ps "
        f"LEFT JOIN {T['target']} t ON t.parent_school_id = ps.id AND t.term_id = %s "
        f"WHERE (ps.is_active OR t.id IS NOT NULL){only}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [DEFAULT_SESSIONS_REQUIRED, term.pk, *only_params])
        return {ps_id: (unit_id, required) for ps_id, unit_id, required in cursor.fetchall()}


def reporting_session(cursor, *, incremental: bool = False) -> None:
    """Planner settings for the roll-up's few big aggregates (this transaction only).

    At district scale the planner underestimates the term's bookings and picks a
    nested loop of index probes (one per offering); hash joins over a sequential
    scan are about twice as fast. More work_mem keeps the GROUPING SETS sort in
    memory, and JIT compilation costs more than it saves on these queries.

    An incremental roll-up (a few parent schools) is the opposite case: index
    probes per offering are what makes it fast, so it keeps nested loops and
    only turns JIT off.
    """
    if _is_postgres():
        if incremental:
            cursor.execute("SET LOCAL jit = off")
            return
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
    *,
    term: Term,
    now: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
    keys=None,
) -> list[dict]:
    """Run the aggregate queries; return one dict of figures per snapshot key.

    ``keys`` (a set of (unit id, parent school key)) restricts every query to
    those keys: the rows returned are then exactly theirs (months and term),
    computed by the same SQL as the full roll-up. The caller holds the
    transaction (reports.services.snapshot_marks_rollup).
    """
    queries = _queries(term, now, keys)
    total_steps = len(queries) + 1
    groups: dict[tuple, dict] = {}
    with connection.cursor() as cursor:
        if keys is not None:
            reporting_session(cursor, incremental=True)
        for step, (_name, metrics, sql, params) in enumerate(queries, start=1):
            if keys is not None:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            else:
                # Each query in its own short transaction, so that the job's
                # progress (written between them) is visible at once.
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

    targets = _targets(term, None if keys is None else _key_parts(keys)[0])
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
        if keys is not None and (unit_id, ps_id or 0) not in keys:
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
            "consultations_held",
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


# --- marks: which snapshot keys a change touches ------------------------------------------

MARK_TABLE = "reports_snapshotmark"


def local_date_sql(column: str) -> str:
    """The Shanghai calendar date of a UTC timestamp column."""
    if _is_postgres():
        return f"(({column}) AT TIME ZONE 'Asia/Shanghai')::date"
    return f"date({column}, '+8 hours')"


def marks_insert_sql(
    *,
    offering_ids=(),
    credit_keys=(),
    lesson_progress_ids=(),
    marked_at: dt.datetime,
) -> tuple[str, list] | None:
    """One ``INSERT … SELECT`` of the snapshot keys (term, unit, parent school key,
    month) that these changed rows touch, derived exactly as the roll-up's queries
    group them: an offering by its parent school's host unit (events: their own
    unit, key 0) and the month it starts; a credit by the month it was posted; a
    completed lesson by the month it was completed. ``None`` for nothing."""
    parts, params = [], []
    if offering_ids:
        in_ids, ids = _in("o.id", set(offering_ids))
        parts.append(
            f"SELECT t.id AS term_id, COALESCE(ps.host_unit_id, o.unit_id) AS unit_id, "
            f"COALESCE(c.parent_school_id, 0) AS ps_key, {month_sql('o.starts_at')} AS period "
            f"FROM {T['offering']} o "
            f"LEFT JOIN {T['session']} cs ON cs.offering_id = o.id "
            f"LEFT JOIN {T['course']} c ON c.id = cs.course_id "
            f"LEFT JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
            f"JOIN {Term._meta.db_table} t ON (o.kind = 'course_session' AND t.id = c.term_id) "
            # A consultation counts at the station's unit (its offering's), key 0.
            f"OR (o.kind IN ('event', 'consultation') AND {local_date_sql('o.starts_at')} "
            "BETWEEN t.starts_on AND t.ends_on) "
            f"WHERE {in_ids}"
        )
        params += ids
    if credit_keys:
        in_keys, keys = _in("ce.key", set(credit_keys))
        parts.append(
            "SELECT ce.term_id AS term_id, ps.host_unit_id AS unit_id, "
            f"c.parent_school_id AS ps_key, {month_sql('ce.created_at')} AS period "
            f"FROM {T['credit']} ce JOIN {T['course']} c ON c.id = ce.course_id "
            f"JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
            f"WHERE {in_keys}"
        )
        params += keys
    if lesson_progress_ids:
        in_ids, ids = _in("lp.id", set(lesson_progress_ids))
        parts.append(
            "SELECT c.term_id AS term_id, ps.host_unit_id AS unit_id, "
            f"c.parent_school_id AS ps_key, {month_sql('lp.completed_at')} AS period "
            f"FROM {T['progress']} lp JOIN {T['lesson']} l ON l.id = lp.lesson_id "
            f"JOIN {T['course']} c ON c.id = l.course_id "
            f"JOIN {T['parent_school']} ps ON ps.id = c.parent_school_id "
            f"WHERE lp.completed_at IS NOT NULL AND {in_ids}"
        )
        params += ids
    if not parts:
        return None
    union = " UNION ".join(parts)
    sql = (
        f"INSERT INTO {MARK_TABLE} (term_id, unit_id, parent_school_key, period, figures, "
        "marked_at) "
        f"SELECT term_id, unit_id, ps_key, period, 'participation', %s FROM ({union}) k "
        "WHERE unit_id IS NOT NULL"
    )
    return sql, [_param(marked_at), *params]


# --- the growth handbook's figures (per unit and term) -------------------------------------

HANDBOOK_CLAIMS_SELECT = """
    COUNT(*) FILTER (WHERE c.status <> 'withdrawn') AS claims,
    COUNT(*) FILTER (WHERE c.status = 'approved') AS claims_approved,
    COUNT(*) FILTER (WHERE c.status IN ('pending', 'more_info')) AS claims_open,
    COALESCE(SUM(c.points) FILTER (WHERE c.status = 'approved' AND i.kind = 'home'), 0)
        AS points_home,
    COALESCE(SUM(c.points) FILTER (WHERE c.status = 'approved' AND i.kind = 'school'), 0)
        AS points_school,
    COALESCE(SUM(c.points) FILTER (WHERE c.status = 'approved' AND i.kind = 'behaviour'), 0)
        AS points_behaviour,
    COUNT(DISTINCT c.family_id) FILTER (WHERE c.status <> 'withdrawn') AS families_active"""

HANDBOOK_METRICS = [
    "claims",
    "claims_approved",
    "claims_open",
    "points_home",
    "points_school",
    "points_behaviour",
    "families_active",
    "learning_families",
]


def _handbook_tables() -> dict[str, str]:
    # Imported here: reports sits above handbook and recognition, but the
    # participation roll-up above never needs them.
    from handbook.models import Claim, HandbookItem
    from recognition.models import LearningFamilyEntry, LearningFamilyList

    return {
        "claim": Claim._meta.db_table,
        "item": HandbookItem._meta.db_table,
        "entry": LearningFamilyEntry._meta.db_table,
        "list": LearningFamilyList._meta.db_table,
    }


def handbook_queries(term: Term, unit_ids=None) -> list[tuple[str, list[str], str, list]]:
    """(name, metric columns, sql, params) of the handbook's two aggregates, each
    one ``GROUP BY unit``: the term's claims by their verifying unit (withdrawn
    ones are not claims made; points are those of approved claims, by the item's
    kind), and the included entries of the term's *published* learning-family
    lists by the family's unit (a list not yet published counts 0).

    ``unit_ids`` (an incremental pass) restricts both to those units."""
    t = _handbook_tables()
    claim_only, entry_only, claim_params, entry_params = "", "", [], []
    if unit_ids is not None:
        claim_only, claim_params = _in("c.unit_id", unit_ids)
        entry_only, entry_params = _in("e.unit_id", unit_ids)
        claim_only, entry_only = f" AND {claim_only}", f" AND {entry_only}"
    claims = (
        f"SELECT c.unit_id, {HANDBOOK_CLAIMS_SELECT} "
        f"FROM {t['claim']} c JOIN {t['item']} i ON i.id = c.item_id "
        f"WHERE c.term_id = %s{claim_only} GROUP BY c.unit_id"
    )
    families = (
        "SELECT e.unit_id, COUNT(*) AS learning_families "
        f"FROM {t['entry']} e JOIN {t['list']} l ON l.id = e.family_list_id "
        f"WHERE l.term_id = %s AND l.status = 'published' AND e.included "
        f"AND e.unit_id IS NOT NULL{entry_only} GROUP BY e.unit_id"
    )
    return [
        ("handbook_claims", HANDBOOK_METRICS[:7], claims, [term.pk, *claim_params]),
        ("learning_families", ["learning_families"], families, [term.pk, *entry_params]),
    ]


def handbook_figures(*, term: Term, unit_ids=None) -> list[dict]:
    """One dict of handbook figures per unit that has any (claims or learning
    families) in ``term``; only ``unit_ids`` when given. Two aggregate queries."""
    groups: dict[int, dict] = {}
    with connection.cursor() as cursor, transaction.atomic():
        # The full roll-up's planner settings (hash joins, the distinct families'
        # sort in memory, no JIT) for a term's claims; a pass (a few units, inside
        # the caller's transaction) keeps index probes.
        reporting_session(cursor, incremental=unit_ids is not None)
        for _name, metrics, sql, params in handbook_queries(term, unit_ids):
            cursor.execute(sql, params)
            for unit_id, *values in cursor.fetchall():
                figures = groups.setdefault(unit_id, {})
                for metric, value in zip(metrics, values, strict=True):
                    figures[metric] = int(value or 0)
    return [
        {"unit_id": unit_id, **{m: figures.get(m, 0) for m in HANDBOOK_METRICS}}
        for unit_id, figures in groups.items()
    ]


def handbook_marks_insert_sql(*, family_list_ids=(), marked_at: dt.datetime) -> tuple[str, list]:
    """One ``INSERT … SELECT`` of the handbook keys (term, unit) of these lists'
    entries: publishing (or changing) a list changes its units' learning families."""
    t = _handbook_tables()
    in_ids, ids = _in("e.family_list_id", set(family_list_ids))
    sql = (
        f"INSERT INTO {MARK_TABLE} (term_id, unit_id, parent_school_key, period, figures, "
        "marked_at) "
        f"SELECT DISTINCT l.term_id, e.unit_id, 0, '{TERM_PERIOD}', 'handbook', %s "
        f"FROM {t['entry']} e JOIN {t['list']} l ON l.id = e.family_list_id "
        f"WHERE e.unit_id IS NOT NULL AND {in_ids}"
    )
    return sql, [_param(marked_at), *ids]


# --- the questionnaires' figures (per unit and term) ---------------------------------------

SURVEY_METRICS = [
    "surveys",
    "invited",
    "answered",
    "response_rate",
    "satisfaction_answers",
    "satisfaction_sum",
    "satisfaction",
]

# The surveys whose satisfaction question counts for 考核: the term surveys (a
# parent school's or an alliance's), which every family of the unit is asked,
# as the district's responsibility reads ("satisfaction ≥ 4.0 of 5 on the term
# survey"). A session's survey rates one session: its mean is in the survey's
# own results, not in the unit's satisfaction.
TERM_SCOPES = ("parent_school_term", "alliance_term")


def _survey_tables() -> dict[str, str]:
    # Imported here: reports sits above surveys, but the participation roll-up
    # above never needs them.
    from surveys.models import Answer, Invitation, Participation, Question, Response, Survey

    return {
        "survey": Survey._meta.db_table,
        "invitation": Invitation._meta.db_table,
        "participation": Participation._meta.db_table,
        "response": Response._meta.db_table,
        "answer": Answer._meta.db_table,
        "question": Question._meta.db_table,
    }


def survey_figures_sql(term: Term, unit_ids=None) -> tuple[str, list]:
    """The one aggregate statement behind ``survey_figures``: per unit, over the
    term's published surveys that families answer (a course survey is a series:
    its sessions' surveys are answered, it is not), the families invited or
    answered, the answers (participations, named and anonymous alike) and the
    satisfaction answers of the term surveys (released responses only).

    Each survey's counts are aggregated first (invitations, participations,
    satisfaction answers: three per-survey groups over the scoped surveys), then
    summed per unit, so no join multiplies one table's rows by another's.
    ``unit_ids`` (an incremental pass) restricts the surveys to those units."""
    t = _survey_tables()
    only, only_params = "", []
    if unit_ids is not None:
        only, only_params = _in("s.unit_id", unit_ids)
        only = f" AND {only}"
    term_scopes = ", ".join(f"'{scope}'" for scope in TERM_SCOPES)
    sql = f"""
    WITH scoped AS (
        SELECT s.id, s.unit_id, s.scope FROM {t["survey"]} s
         WHERE s.term_id = %s AND s.is_published AND s.scope <> 'course'{only}
    ),
    invited AS (
        SELECT i.survey_id, COUNT(*) AS n FROM {t["invitation"]} i
          JOIN scoped s ON s.id = i.survey_id GROUP BY i.survey_id
    ),
    answered AS (
        SELECT p.survey_id, COUNT(*) AS n, COUNT(i.id) AS invited_too
          FROM {t["participation"]} p JOIN scoped s ON s.id = p.survey_id
          LEFT JOIN {t["invitation"]} i ON i.survey_id = p.survey_id AND i.family_id = p.family_id
         GROUP BY p.survey_id
    ),
    satisfied AS (
        SELECT r.survey_id, COUNT(*) AS n, SUM(a.number) AS total
          FROM {t["response"]} r JOIN scoped s ON s.id = r.survey_id
          JOIN {t["answer"]} a ON a.response_id = r.id
          JOIN {t["question"]} q ON q.id = a.question_id
         WHERE s.scope IN ({term_scopes}) AND q.measure = 'satisfaction'
           AND a.number IS NOT NULL
         GROUP BY r.survey_id
    )
    SELECT s.unit_id,
           COUNT(*) AS surveys,
           COALESCE(SUM(i.n), 0) AS invitations,
           COALESCE(SUM(p.n), 0) AS answered,
           COALESCE(SUM(p.invited_too), 0) AS answered_invited,
           COALESCE(SUM(sa.n), 0) AS satisfaction_answers,
           COALESCE(SUM(sa.total), 0) AS satisfaction_sum,
           COALESCE(SUM(CASE WHEN sa.n < %s THEN sa.n END), 0) AS satisfaction_hidden
      FROM scoped s
      LEFT JOIN invited i ON i.survey_id = s.id
      LEFT JOIN answered p ON p.survey_id = s.id
      LEFT JOIN satisfied sa ON sa.survey_id = s.id
     GROUP BY s.unit_id"""
    return sql, [term.pk, *only_params, min_group()]


def min_group() -> int:
    return settings.SURVEYS_MIN_GROUP


def small_group_hides(count: int, hidden: int = 0) -> bool:
    """The small-group rule of the questionnaires (docs/SURVEYS.md "Results,
    comparison and small groups") for a figure made of answers: hidden when it
    counts fewer than SURVEYS_MIN_GROUP answers, and also when the answers in
    it that are hidden elsewhere (``hidden``: those of surveys or units below
    the minimum) are more than none but fewer than the minimum — else the shown
    figure minus the shown parts would reveal them."""
    minimum = min_group()
    return count < minimum or 0 < hidden < minimum


TWO_DECIMALS = Decimal("0.01")


def survey_figures(*, term: Term, unit_ids=None) -> list[dict]:
    """One dict of questionnaire figures (SURVEY_METRICS) per unit that has a
    published survey in ``term``; only ``unit_ids`` when given. One query.

    ``invited`` counts the families asked: those invited, plus those who answered
    before their invitation was due (a session's survey opens when the session
    ends, its invitation goes out two hours later, and never to a family that
    has answered), so the response rate is answered / invited and at most 100%.
    ``satisfaction`` is the mean of the satisfaction answers of the unit's term
    surveys (sum / count, kept beside it so totals add up) — None, shown as
    「样本不足，不显示」, when the small-group rule hides it (``small_group_hides``:
    fewer than SURVEYS_MIN_GROUP answers, or a term survey below the minimum
    whose answers are fewer than the minimum inside it). The response rate and
    the counts are not answers' content and always stay."""
    sql, params = survey_figures_sql(term, unit_ids)
    with connection.cursor() as cursor, transaction.atomic():
        reporting_session(cursor, incremental=unit_ids is not None)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = []
    for unit_id, surveys, invitations, answered, answered_invited, sat_n, sat_sum, hidden in rows:
        sat_n, sat_sum = int(sat_n), int(sat_sum)
        invited = int(invitations) + int(answered) - int(answered_invited)
        result.append(
            {
                "unit_id": unit_id,
                "surveys": int(surveys),
                "invited": invited,
                "answered": int(answered),
                "response_rate": _rate(int(answered), invited),
                "satisfaction_answers": sat_n,
                "satisfaction_sum": sat_sum,
                "satisfaction": (
                    None if small_group_hides(sat_n, int(hidden)) else mean_of(sat_sum, sat_n)
                ),
            }
        )
    return result


def mean_of(total: int, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(TWO_DECIMALS, rounding=ROUND_HALF_UP)


def survey_marks_insert_sql(*, survey_ids=(), marked_at: dt.datetime) -> tuple[str, list]:
    """One ``INSERT … SELECT`` of the questionnaire keys (term, unit) of these
    surveys: an answer, an invitation or a release changes their figures."""
    t = _survey_tables()
    in_ids, ids = _in("s.id", set(survey_ids))
    sql = (
        f"INSERT INTO {MARK_TABLE} (term_id, unit_id, parent_school_key, period, figures, "
        "marked_at) "
        f"SELECT DISTINCT s.term_id, s.unit_id, 0, '{TERM_PERIOD}', 'surveys', %s "
        f"FROM {t['survey']} s WHERE {in_ids}"
    )
    return sql, [_param(marked_at), *ids]


# --- 考核: attainment against the units' targets -------------------------------------------

# What each responsibility's metric (evaluation.Responsibility.Metric) is measured
# by: summed participation figures of the unit's term rows, or its survey row.
PARTICIPATION_MEASURES = ("sessions_held", "events_held", "families", "person_times")


def attainment_achieved(metric: str, participation: dict | None, surveys: dict | None):
    """What a unit achieved on ``metric`` (an evaluation.Responsibility.Metric
    value), from its participation term rows summed (``participation``: the sums
    of sessions_held, events_held, families, person_times, attendances,
    enrolments_held) and its survey row (``surveys``: response_rate,
    satisfaction). None when there is nothing to measure: no held enrolment for
    the attendance rate, no invitation for the response rate, no satisfaction
    answer; a count with no row is 0 (nothing was held)."""
    if metric in PARTICIPATION_MEASURES:
        return Decimal(int((participation or {}).get(metric) or 0))
    if metric == "attendance_rate":
        if participation is None:
            return None
        return _rate(participation["attendances"] or 0, participation["enrolments_held"] or 0)
    if metric in ("response_rate", "satisfaction"):
        return None if surveys is None else surveys[metric]
    return None


# --- brand programmes (per brand and term: reports.BrandSnapshot) --------------------------

BRAND_METRICS = ["sessions", "person_times", "families"]


def brand_figures_sql(term: Term, now: dt.datetime) -> tuple[str, list]:
    """The one aggregate statement behind ``brand_figures``, ``GROUP BY`` brand:
    the term's held offerings that carry a brand — course sessions of the term's
    courses (the course's brand), events inside the term's dates (the event's),
    group sessions inside them (the group's) — and the present bookings on them.

    "Held" and "took part" are the unit snapshots' (``scoped_cte``, ``PRESENT``):
    not cancelled (an event neither draft nor cancelled), started by ``now``; a
    confirmed booking marked present, its party size the person-times. Sessions
    and bookings are aggregated apart and then joined, so the bookings never
    multiply the sessions. Consultations carry no brand and are never here."""
    from groups.models import Group, GroupSession

    group, group_session = Group._meta.db_table, GroupSession._meta.db_table
    start, end = term_window(term)
    sql = f"""
    WITH branded AS (
        SELECT o.id AS offering_id, COALESCE(c.brand_id, e.brand_id, g.brand_id) AS brand_id
          FROM {T["offering"]} o
          LEFT JOIN {T["session"]} cs ON cs.offering_id = o.id
          LEFT JOIN {T["course"]} c ON c.id = cs.course_id
          LEFT JOIN {T["event"]} e ON e.offering_id = o.id
          LEFT JOIN {group_session} gs ON gs.offering_id = o.id
          LEFT JOIN {group} g ON g.id = gs.group_id
         WHERE o.status <> 'cancelled' AND o.starts_at <= %s
           AND (e.id IS NULL OR e.status NOT IN ('draft', 'cancelled'))
           AND ((o.kind = 'course_session' AND c.term_id = %s AND c.brand_id IS NOT NULL)
             OR (o.kind = 'event' AND o.starts_at >= %s AND o.starts_at < %s
                 AND e.brand_id IS NOT NULL)
             OR (o.kind = 'group_session' AND o.starts_at >= %s AND o.starts_at < %s
                 AND g.brand_id IS NOT NULL))
    ),
    held AS (
        SELECT brand_id, COUNT(*) AS sessions FROM branded GROUP BY brand_id
    ),
    present AS (
        SELECT s.brand_id, SUM(b.party_size) AS person_times,
               COUNT(DISTINCT b.family_id) AS families
          FROM branded s JOIN {T["booking"]} b ON b.offering_id = s.offering_id
         WHERE b.status = 'confirmed' AND b.attendance = 'present'
         GROUP BY s.brand_id
    )
    SELECT h.brand_id, h.sessions, COALESCE(p.person_times, 0), COALESCE(p.families, 0)
      FROM held h LEFT JOIN present p ON p.brand_id = h.brand_id"""
    window = [_param(start), _param(end)]
    return sql, [_param(now), term.pk, *window, *window]


def brand_figures(*, term: Term, now: dt.datetime) -> list[dict]:
    """One dict of brand figures (BRAND_METRICS) per brand that held anything in
    ``term``. One query."""
    sql, params = brand_figures_sql(term, now)
    with connection.cursor() as cursor, transaction.atomic():
        reporting_session(cursor)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {
            "brand_id": brand_id,
            "sessions": int(sessions),
            "person_times": int(person_times or 0),
            "families": int(families or 0),
        }
        for brand_id, sessions, person_times, families in rows
    ]
