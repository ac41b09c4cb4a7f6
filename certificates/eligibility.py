"""Who has earned a certificate under an alliance's rule in a term: one SQL
statement per rule kind, aggregated in the database, ordered by the issuing key
so that a batch can walk 40,000 candidates in chunks (``after`` = the last key
of the previous chunk).

What counts (docs/CERTIFICATES.md, "Rules and issuing"); "the alliance's units"
are its current member units (``Membership.left_on`` empty):

- **course**: a course of the term hosted by one of the alliance's units, whose
  sessions (cancelled ones aside) have all ended. The family was marked present at
  ``attendance_percent`` % of its sessions or more and, with ``lessons_required``,
  completed every online lesson that plays on the portal (an outside link cannot
  be measured, so it is not asked for). A course without sessions needs its
  lessons; a course with neither certifies nobody.
- **credits**: the family's credit-bank rows of the term for courses hosted by
  the alliance's units, summed (reversals are negative rows), at least
  ``credits_min``.
- **learning_family**: the families included on the alliance's published
  学习型家庭 list of the term.
- **volunteer**: a volunteer's counted service hours (recorded or verified) of the
  term at the alliance's units, at least ``hours_min``; only a volunteer with a
  login can hold a certificate.

The holder is named as the spec says: surname + given name, else the display
name, else 「家长」 (never a phone or an e-mail address). A family certificate
names its first guardian (for a course, a guardian who booked its sessions first).
A child's nickname only for a course rule with ``mentions_child``, when the family
opted in and has one child.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import Booking, Offering
from courses.models import Course, CourseSession, CreditEntry, LessonProgress, OnlineLesson
from members.models import Alliance, Child, Guardian, Membership, User
from parent_school.models import Instructor, ParentSchool
from recognition.models import LearningFamilyEntry, LearningFamilyList
from volunteers.models import ServiceHour

from .models import CertificatePreference, CertificateRule, Kind

#: The holder name is stored in 60 characters; a family's is 「…家庭」.
NAME_CHARS = 40


@dataclass(frozen=True)
class Candidate:
    key: str
    kind: str
    unit_id: int
    holder_name: str
    subject_title: str
    family_id: int | None = None
    user_id: int | None = None
    course_id: int | None = None
    credits: Decimal | None = None
    hours: Decimal | None = None
    child_nickname: str = ""


def real_name(last_name: str, first_name: str, display_name: str, fallback: str = "") -> str:
    """Surname + given name, else the display name, else ``fallback`` (「家长」):
    never a phone number or an e-mail address, which person_name would fall back to."""
    for name in (f"{last_name or ''}{first_name or ''}", display_name or ""):
        name = "".join(name.split())
        if name:
            return name[:NAME_CHARS]
    return fallback or _("家长")


def _t(model) -> str:
    return f'"{model._meta.db_table}"'


def _units_sql() -> str:
    return (
        f"SELECT unit_id FROM {_t(Membership)} "
        "WHERE alliance_id = %(alliance_id)s AND left_on IS NULL"
    )


# The first guardian of a family and their names (``fam`` is the outer row).
_GUARDIAN_LATERAL = f"""
    JOIN LATERAL (
      SELECT g.user_id, u.last_name, u.first_name, u.display_name
      FROM {_t(Guardian)} g JOIN {_t(User)} u ON u.id = g.user_id
      WHERE g.family_id = fam.family_id
      ORDER BY g.id LIMIT 1
    ) gu ON TRUE
"""

_PAGE = """
    WHERE fam.key > %(after)s COLLATE "C"
    ORDER BY fam.key COLLATE "C"
    LIMIT %(limit)s
"""


def _course_sql() -> str:
    return f"""
    WITH units AS ({_units_sql()}),
    crs AS (
      SELECT c.id, c.title, ps.host_unit_id
      FROM {_t(Course)} c JOIN {_t(ParentSchool)} ps ON ps.id = c.parent_school_id
      WHERE c.term_id = %(term_id)s AND ps.host_unit_id IN (SELECT unit_id FROM units)
    ),
    ses AS (
      SELECT cs.course_id, cs.offering_id, o.ends_at
      FROM {_t(CourseSession)} cs JOIN {_t(Offering)} o ON o.id = cs.offering_id
      WHERE cs.course_id IN (SELECT id FROM crs) AND o.status <> '{Offering.Status.CANCELLED.value}'
    ),
    ses_n AS (
      SELECT course_id, COUNT(*) AS n, MAX(ends_at) AS last_end FROM ses GROUP BY course_id
    ),
    les AS (
      SELECT l.id, l.course_id FROM {_t(OnlineLesson)} l
      WHERE l.course_id IN (SELECT id FROM crs) AND l.video_file <> ''
    ),
    les_n AS (SELECT course_id, COUNT(*) AS n FROM les GROUP BY course_id),
    done_courses AS (
      SELECT crs.id, crs.title, crs.host_unit_id,
             COALESCE(ses_n.n, 0) AS sessions, COALESCE(les_n.n, 0) AS lessons
      FROM crs
      LEFT JOIN ses_n ON ses_n.course_id = crs.id
      LEFT JOIN les_n ON les_n.course_id = crs.id
      WHERE (ses_n.last_end IS NULL OR ses_n.last_end <= %(now)s)
        AND (COALESCE(ses_n.n, 0) > 0 OR (%(lessons_required)s AND COALESCE(les_n.n, 0) > 0))
    ),
    att AS (
      SELECT ses.course_id, b.family_id, COUNT(DISTINCT b.offering_id) AS n,
             array_agg(DISTINCT b.booked_by_id) AS booked_by
      FROM ses JOIN {_t(Booking)} b ON b.offering_id = ses.offering_id
      WHERE b.attendance = '{Booking.Attendance.PRESENT.value}'
        AND b.status <> '{Booking.Status.CANCELLED.value}' AND b.family_id IS NOT NULL
      GROUP BY ses.course_id, b.family_id
    ),
    wat AS (
      SELECT les.course_id, p.family_id, COUNT(*) AS n
      FROM les JOIN {_t(LessonProgress)} p ON p.lesson_id = les.id
      WHERE p.completed_at IS NOT NULL AND p.family_id IS NOT NULL
      GROUP BY les.course_id, p.family_id
    ),
    pairs AS (
      SELECT course_id, family_id FROM att UNION SELECT course_id, family_id FROM wat
    ),
    fam AS (
      SELECT 'course:' || dc.id || ':family:' || pairs.family_id AS key,
             dc.id AS course_id, dc.title, dc.host_unit_id AS unit_id, pairs.family_id,
             att.booked_by
      FROM pairs
      JOIN done_courses dc ON dc.id = pairs.course_id
      LEFT JOIN att ON att.course_id = pairs.course_id AND att.family_id = pairs.family_id
      LEFT JOIN wat ON wat.course_id = pairs.course_id AND wat.family_id = pairs.family_id
      WHERE (dc.sessions = 0 OR COALESCE(att.n, 0) * 100 >= %(percent)s * dc.sessions)
        AND (NOT %(lessons_required)s OR COALESCE(wat.n, 0) >= dc.lessons)
    )
    SELECT fam.key, fam.course_id, fam.title, fam.unit_id, fam.family_id,
           gu.user_id, gu.last_name, gu.first_name, gu.display_name,
           (SELECT SUM(ce.amount) FROM {_t(CreditEntry)} ce
             WHERE ce.family_id = fam.family_id AND ce.course_id = fam.course_id) AS credits,
           (SELECT CASE WHEN COUNT(*) = 1 THEN MIN(ch.nickname) END
              FROM {_t(Child)} ch WHERE ch.family_id = fam.family_id) AS only_child,
           COALESCE((SELECT cp.child_nickname_shown FROM {_t(CertificatePreference)} cp
             WHERE cp.family_id = fam.family_id), FALSE) AS nickname_shown
    FROM fam
    JOIN LATERAL (
      -- a guardian who booked the sessions, else the family's first guardian
      SELECT g.user_id, u.last_name, u.first_name, u.display_name
      FROM {_t(Guardian)} g JOIN {_t(User)} u ON u.id = g.user_id
      WHERE g.family_id = fam.family_id
      ORDER BY COALESCE(g.user_id = ANY(fam.booked_by), FALSE) DESC, g.id
      LIMIT 1
    ) gu ON TRUE
    {_PAGE}
    """


def _credits_sql() -> str:
    return f"""
    WITH units AS ({_units_sql()}),
    fam AS (
      SELECT 'credits:' || CAST(%(alliance_id)s AS text) || ':' || CAST(%(term_id)s AS text)
               || ':family:' || ce.family_id
               AS key,
             ce.family_id, SUM(ce.amount) AS credits, MIN(ps.host_unit_id) AS unit_id
      FROM {_t(CreditEntry)} ce
      JOIN {_t(Course)} c ON c.id = ce.course_id
      JOIN {_t(ParentSchool)} ps ON ps.id = c.parent_school_id
      WHERE ce.term_id = %(term_id)s AND ce.family_id IS NOT NULL
        AND ps.host_unit_id IN (SELECT unit_id FROM units)
      GROUP BY ce.family_id
      HAVING SUM(ce.amount) >= %(credits_min)s
    )
    SELECT fam.key, fam.family_id, fam.credits,
           COALESCE(a.base_unit_id, fam.unit_id) AS unit_id,
           gu.user_id, gu.last_name, gu.first_name, gu.display_name
    FROM fam
    JOIN {_t(Alliance)} a ON a.id = %(alliance_id)s
    {_GUARDIAN_LATERAL}
    {_PAGE}
    """


def _learning_family_sql() -> str:
    return f"""
    WITH fam AS (
      SELECT 'learning_family:' || l.alliance_id || ':' || l.term_id || ':family:' || e.family_id
               AS key,
             e.family_id, e.credits, e.unit_id
      FROM {_t(LearningFamilyEntry)} e
      JOIN {_t(LearningFamilyList)} l ON l.id = e.family_list_id
      WHERE l.alliance_id = %(alliance_id)s AND l.term_id = %(term_id)s
        AND l.status = '{LearningFamilyList.Status.PUBLISHED.value}' AND e.included
        -- no issuing unit (an alliance without a base, a family without a
        -- school): not a candidate, so pages and the batch's total agree
        AND COALESCE(
          (SELECT base_unit_id FROM {_t(Alliance)} WHERE id = %(alliance_id)s), e.unit_id
        ) IS NOT NULL
    )
    SELECT fam.key, fam.family_id, fam.credits,
           COALESCE(a.base_unit_id, fam.unit_id) AS unit_id,
           gu.user_id, gu.last_name, gu.first_name, gu.display_name
    FROM fam
    JOIN {_t(Alliance)} a ON a.id = %(alliance_id)s
    {_GUARDIAN_LATERAL}
    {_PAGE}
    """


def _volunteer_sql() -> str:
    counted = ", ".join(f"'{status.value}'" for status in ServiceHour.COUNTED)
    return f"""
    WITH units AS ({_units_sql()}),
    fam AS (
      SELECT 'volunteer:' || CAST(%(alliance_id)s AS text) || ':' || CAST(%(term_id)s AS text)
               || ':user:' || i.user_id
               AS key,
             i.user_id, MIN(i.name) AS name, MIN(h.unit_id) AS unit_id, SUM(h.hours) AS hours
      FROM {_t(ServiceHour)} h JOIN {_t(Instructor)} i ON i.id = h.instructor_id
      WHERE h.term_id = %(term_id)s AND h.status IN ({counted}) AND i.user_id IS NOT NULL
        AND h.unit_id IN (SELECT unit_id FROM units)
      GROUP BY i.user_id
      HAVING SUM(h.hours) >= %(hours_min)s
    )
    SELECT fam.key, fam.user_id, fam.hours, fam.name,
           COALESCE(a.base_unit_id, fam.unit_id) AS unit_id,
           u.last_name, u.first_name, u.display_name
    FROM fam
    JOIN {_t(Alliance)} a ON a.id = %(alliance_id)s
    JOIN {_t(User)} u ON u.id = fam.user_id
    {_PAGE}
    """


def _rows(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    value = Decimal(value).quantize(Decimal("0.1"))
    return value if value > 0 else None


def _query(rule: CertificateRule, term, *, after: str, limit: int | None):
    """The rule's statement and its parameters (None: the rule certifies nobody)."""
    params = {
        "alliance_id": rule.alliance_id,
        "term_id": term.pk,
        "after": after or "",
        "limit": None if limit is None else max(int(limit), 0),  # LIMIT NULL: all
    }
    if rule.kind == Kind.COURSE:
        params.update(
            now=timezone.now(),
            percent=rule.attendance_percent,
            lessons_required=rule.lessons_required,
        )
        return _course_sql(), params
    if rule.kind == Kind.CREDITS and rule.credits_min is not None:
        return _credits_sql(), {**params, "credits_min": rule.credits_min}
    if rule.kind == Kind.LEARNING_FAMILY:
        return _learning_family_sql(), params
    if rule.kind == Kind.VOLUNTEER and rule.hours_min is not None:
        return _volunteer_sql(), {**params, "hours_min": rule.hours_min}
    # a credits or volunteer rule without its threshold certifies nobody
    return None


def candidates(rule: CertificateRule, term, *, after: str = "", limit: int) -> list[Candidate]:
    """The rule's candidates in ``term`` whose key sorts after ``after`` (bytewise),
    at most ``limit``, in key order. Whether one already holds the certificate is
    not asked here: issuing is once per key (services.certificate_issue)."""
    query = _query(rule, term, after=after, limit=limit)
    if query is None:
        return []
    rows = _rows(*query)
    build = {
        Kind.COURSE: _course_candidate,
        Kind.CREDITS: _credits_candidate,
        Kind.LEARNING_FAMILY: _learning_family_candidate,
        Kind.VOLUNTEER: _volunteer_candidate,
    }[rule.kind]
    found = (build(row, rule, term) for row in rows)
    return [candidate for candidate in found if candidate is not None]


def candidate_count(rule: CertificateRule, term) -> int:
    """How many candidates the rule has in ``term`` (a batch's total), one query."""
    query = _query(rule, term, after="", limit=None)
    if query is None:
        return 0
    sql, params = query
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) counted", params)
        return cursor.fetchone()[0]


def _course_candidate(row, rule, term) -> Candidate:
    nickname = ""
    if rule.mentions_child and row["nickname_shown"] and row["only_child"]:
        nickname = row["only_child"]
    return Candidate(
        key=row["key"],
        kind=Kind.COURSE,
        unit_id=row["unit_id"],
        holder_name=real_name(row["last_name"], row["first_name"], row["display_name"]),
        subject_title=row["title"],
        family_id=row["family_id"],
        user_id=row["user_id"],
        course_id=row["course_id"],
        credits=_decimal(row["credits"]),
        child_nickname=nickname,
    )


def _credits_candidate(row, rule, term) -> Candidate:
    return Candidate(
        key=row["key"],
        kind=Kind.CREDITS,
        unit_id=row["unit_id"],
        holder_name=real_name(row["last_name"], row["first_name"], row["display_name"]),
        subject_title=_("%(term)s学分达标") % {"term": term},
        family_id=row["family_id"],
        user_id=row["user_id"],
        credits=_decimal(row["credits"]),
    )


def _learning_family_candidate(row, rule, term) -> Candidate | None:
    if row["unit_id"] is None:
        return None  # no issuing unit: an alliance without a base, a family without a school
    name = real_name(row["last_name"], row["first_name"], row["display_name"])
    return Candidate(
        key=row["key"],
        kind=Kind.LEARNING_FAMILY,
        unit_id=row["unit_id"],
        holder_name=_("%(name)s家庭") % {"name": name},
        subject_title=_("%(term)s学习型家庭") % {"term": term},
        family_id=row["family_id"],
        user_id=row["user_id"],
        credits=_decimal(row["credits"]),
    )


def _volunteer_candidate(row, rule, term) -> Candidate:
    hours = _decimal(row["hours"])
    # A volunteer's registered name (姓名) comes before the display name.
    registered = (row["name"] or "").strip() or row["display_name"]
    return Candidate(
        key=row["key"],
        kind=Kind.VOLUNTEER,
        unit_id=row["unit_id"],
        holder_name=real_name(row["last_name"], row["first_name"], registered, _("志愿者")),
        subject_title=_("%(term)s志愿服务 %(hours)s 小时") % {"term": term, "hours": hours},
        user_id=row["user_id"],
        hours=hours,
    )
