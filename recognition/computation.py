"""The learning-family computation in SQL: every family of an alliance, for every
unit at once, with its figures for the term and whether it meets the rule.

``figures_sql`` is the bare query (the bench times it against the whole
computation, docs/RECOGNITION.md); ``entries_upsert_sql`` wraps it in one
statement that removes the entries of families that left, inserts or refreshes
every other entry (``INSERT … SELECT … ON CONFLICT (family_list, family) DO
UPDATE``, keeping a coordinator's decision where one was written) and returns
the counts. That statement is PostgreSQL's (a DELETE and an INSERT in one WITH,
``LATERAL``, ``regexp_replace``, ``::bigint``).

Elsewhere (the SQLite file of ``make run``) the portable path gives the same
entries: ``figures_sql(portable=True)`` is the same query in SQL that SQLite
(3.30 and later, for ``FILTER``) and PostgreSQL both run, with the guardian's
raw name masked in Python by ``mask_name``; ``entries_upsert_portable`` then
deletes the entries of families that left and writes the rest with one
``bulk_create(update_conflicts=True)``. ``figures_rows`` and ``entries_upsert``
choose by ``connection.vendor``; a test runs both on PostgreSQL and compares.

What counts (a family "of the alliance" has a child at a unit that is a current
member, ``left_on`` empty; a family in two alliances is on both lists):

- credits: the family's credit-bank rows of the term, summed (reversals are
  negative rows, so they are included);
- points: approved claims' points in the term; items: distinct approved items of
  each kind; open rejections: items whose latest rejected claim in the term has
  no approved claim of the same item made after it;
- sessions: distinct offerings the family was marked present at whose start lies
  within the term's dates (Asia/Shanghai days).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _

from bookings.models import Booking, Offering
from courses.models import CreditEntry
from handbook.models import Claim, HandbookItem, ItemKind
from members.models import Child, Guardian, Membership, User
from parent_school.models import Term
from parent_school.selectors import term_window

from .models import LearningFamilyEntry, LearningFamilyRule

#: The printed name keeps this many characters of a guardian's name at most
#: (before masking), so "…家庭" fits the entry's 60 characters.
NAME_CHARS = 20


def mask_name(name: str) -> str:
    """'李小明' → '李*明', '王芳' → '王*', '欧阳晓明' → '欧**明': the first and
    last character stay, the rest are stars (one character stays as it is).
    The SQL twin is in ``_display_name_sql``; a test checks that they agree."""
    name = "".join(str(name or "").split())[:NAME_CHARS]
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def family_display_name(name: str, family_id: int) -> str:
    """How a family is printed on a list: 「李*明家庭」, else 「家庭 #12」."""
    masked = mask_name(name)
    if not masked:
        return _("家庭 #%(id)s") % {"id": family_id}
    return _("%(name)s家庭") % {"name": masked}


def _t(model) -> str:
    return f'"{model._meta.db_table}"'


def _families_of_alliance_sql() -> str:
    # The family's unit on the list: the lowest id among its children's schools
    # in the alliance (any rule would do; it only decides who sees the entry).
    return f"""
    SELECT c.family_id, MIN(c.school_id) AS unit_id
    FROM {_t(Child)} c
    JOIN {_t(Membership)} m
      ON m.unit_id = c.school_id AND m.alliance_id = %(alliance_id)s AND m.left_on IS NULL
    GROUP BY c.family_id
    """


def _one_family_sql(portable: bool = False) -> str:
    if portable:
        return "SELECT CAST(%(family_id)s AS BIGINT) AS family_id, CAST(NULL AS BIGINT) AS unit_id"
    return "SELECT %(family_id)s::bigint AS family_id, NULL::bigint AS unit_id"


def _raw_name_portable_sql() -> str:
    # The first guardian's display name, else surname + given name, as stored:
    # Python removes the whitespace, cuts and masks it (mask_name).
    return (
        "(SELECT COALESCE(NULLIF(u.display_name, ''), u.last_name || u.first_name) "
        f"FROM {_t(Guardian)} g JOIN {_t(User)} u ON u.id = g.user_id "
        "WHERE g.family_id = fam.family_id ORDER BY g.id LIMIT 1)"
    )


def _display_name_sql() -> str:
    # The first guardian's name (display name, else surname + given name), masked
    # like mask_name; no guardian or no name: 「家庭 #<id>」.
    raw = (
        f"(SELECT left(regexp_replace(COALESCE(NULLIF(u.display_name, ''), "
        f"u.last_name || u.first_name), '\\s', '', 'g'), {NAME_CHARS}) "
        f"FROM {_t(Guardian)} g JOIN {_t(User)} u ON u.id = g.user_id "
        "WHERE g.family_id = fam.family_id ORDER BY g.id LIMIT 1)"
    )
    return (
        """
    CASE
      WHEN COALESCE(char_length(nm.n), 0) = 0 THEN %(fallback_prefix)s || fam.family_id
      WHEN char_length(nm.n) = 1 THEN nm.n || %(suffix)s
      WHEN char_length(nm.n) = 2 THEN left(nm.n, 1) || '*' || %(suffix)s
      ELSE left(nm.n, 1) || repeat('*', char_length(nm.n) - 2) || right(nm.n, 1) || %(suffix)s
    END
    """,
        raw,
    )


def figures_sql(*, families: str = "alliance", portable: bool = False) -> str:
    """The bare query: one row per family (family_id, unit_id, display_name,
    credits, points, sessions, home_items, school_items, behaviour_items,
    open_rejections, qualifies). ``families``: "alliance" (every family of
    %(alliance_id)s) or "family" (%(family_id)s alone, for a parent's progress).
    The rule's figures are parameters (see ``figures_params``).

    ``portable``: the same query for SQLite as well (run it through
    ``figures_rows``): ``display_name`` is then the guardian's raw name, masked
    in Python; credits are rounded to the one decimal they are kept with and
    compared with the rule's as numbers (SQLite sums decimals as floats)."""
    if families == "alliance":
        fam = _families_of_alliance_sql()
    else:
        fam = _one_family_sql(portable)
    if portable:
        display = _raw_name_portable_sql()
        name_join = ""
        credits_sum = "ROUND(SUM(ce.amount), 1)"
        min_credits = "CAST(%(min_credits)s AS NUMERIC)"
    else:
        display, raw_name = _display_name_sql()
        name_join = f"\n      LEFT JOIN LATERAL (SELECT {raw_name} AS n) nm ON TRUE"
        credits_sum = "SUM(ce.amount)"
        min_credits = "%(min_credits)s"
    return f"""
    WITH fam AS ({fam}),
    cr AS (
      SELECT ce.family_id, {credits_sum} AS credits
      FROM {_t(CreditEntry)} ce
      WHERE ce.term_id = %(term_id)s AND ce.family_id IN (SELECT family_id FROM fam)
      GROUP BY ce.family_id
    ),
    per_item AS (
      SELECT cl.family_id, i.kind,
             SUM(cl.points) FILTER (WHERE cl.status = 'approved') AS points,
             MAX(cl.created_at) FILTER (WHERE cl.status = 'approved') AS last_approved,
             MAX(cl.created_at) FILTER (WHERE cl.status = 'rejected') AS last_rejected
      FROM {_t(Claim)} cl
      JOIN {_t(HandbookItem)} i ON i.id = cl.item_id
      WHERE cl.term_id = %(term_id)s AND cl.status IN ('approved', 'rejected')
        AND cl.family_id IN (SELECT family_id FROM fam)
      -- an item and its alliance copy are one item (handbook's copied_from)
      GROUP BY cl.family_id, COALESCE(i.copied_from_id, i.id), i.kind
    ),
    hb AS (
      SELECT family_id,
             COALESCE(SUM(points), 0) AS points,
             COUNT(*) FILTER (WHERE last_approved IS NOT NULL AND kind = '{ItemKind.HOME.value}')
               AS home_items,
             COUNT(*) FILTER (WHERE last_approved IS NOT NULL AND kind = '{ItemKind.SCHOOL.value}')
               AS school_items,
             COUNT(*) FILTER (WHERE last_approved IS NOT NULL AND kind = '{ItemKind.BEHAVIOUR.value}')
               AS behaviour_items,
             COUNT(*) FILTER (
               WHERE last_rejected IS NOT NULL
                 AND (last_approved IS NULL OR last_approved < last_rejected)
             ) AS open_rejections
      FROM per_item
      GROUP BY family_id
    ),
    ss AS (
      SELECT b.family_id, COUNT(DISTINCT b.offering_id) AS sessions
      FROM {_t(Booking)} b
      JOIN {_t(Offering)} o ON o.id = b.offering_id
      WHERE b.attendance = '{Booking.Attendance.PRESENT.value}'
        AND o.starts_at >= %(term_start)s AND o.starts_at < %(term_end)s
        AND b.family_id IN (SELECT family_id FROM fam)
      GROUP BY b.family_id
    ),
    figures AS (
      SELECT fam.family_id, fam.unit_id,
             ({display}) AS display_name,
             COALESCE(cr.credits, 0) AS credits,
             COALESCE(hb.points, 0) AS points,
             COALESCE(ss.sessions, 0) AS sessions,
             COALESCE(hb.home_items, 0) AS home_items,
             COALESCE(hb.school_items, 0) AS school_items,
             COALESCE(hb.behaviour_items, 0) AS behaviour_items,
             COALESCE(hb.open_rejections, 0) AS open_rejections
      FROM fam{name_join}
      LEFT JOIN cr ON cr.family_id = fam.family_id
      LEFT JOIN hb ON hb.family_id = fam.family_id
      LEFT JOIN ss ON ss.family_id = fam.family_id
    )
    SELECT figures.*,
           (credits >= {min_credits} AND points >= %(min_points)s
            AND home_items >= %(min_home_items)s AND school_items >= %(min_school_items)s
            AND behaviour_items >= %(min_behaviour_items)s AND sessions >= %(min_sessions)s
            AND (NOT %(no_open_rejection)s OR open_rejections = 0)) AS qualifies
    FROM figures
    """


def figures_params(*, rule: LearningFamilyRule | None, term: Term, **extra) -> dict:
    start, end = term_window(term)
    params = {
        "term_id": term.pk,
        "term_start": start,
        "term_end": end,
        "suffix": _("家庭"),
        "fallback_prefix": _("家庭 #"),
        "min_credits": rule.min_credits if rule else 0,
        "min_points": rule.min_points if rule else 0,
        "min_home_items": rule.min_home_items if rule else 0,
        "min_school_items": rule.min_school_items if rule else 0,
        "min_behaviour_items": rule.min_behaviour_items if rule else 0,
        "min_sessions": rule.min_sessions if rule else 0,
        "no_open_rejection": rule.no_open_rejection if rule else False,
    }
    params.update(extra)
    return params


def entries_upsert_sql() -> str:
    """One statement: drop the entries of families no longer in the alliance,
    then insert or refresh every family's entry; returns (written, included,
    removed). An entry with an override reason keeps ``included``; the computed
    ``qualifies`` and the figures are always refreshed."""
    entry = _t(LearningFamilyEntry)
    figures = figures_sql(families="alliance")
    # figures_sql starts with "WITH fam AS (…), …"; its CTEs are reused as the
    # statement's own, with the DELETE and the INSERT as two more.
    body = figures.strip()
    assert body.startswith("WITH ")
    ctes, _sep, final_select = body[len("WITH ") :].rpartition("SELECT figures.*")
    ctes = ctes.rstrip()
    return f"""
    WITH {ctes},
    computed AS (SELECT figures.*{final_select}),
    removed AS (
      DELETE FROM {entry} e
      WHERE e.family_list_id = %(list_id)s
        AND NOT EXISTS (SELECT 1 FROM fam WHERE fam.family_id = e.family_id)
      RETURNING 1
    ),
    written AS (
      INSERT INTO {entry} AS e (
        family_list_id, family_id, unit_id, display_name, qualifies, included,
        override_reason, overridden_by_id, overridden_at, credits, points, sessions,
        home_items, school_items, behaviour_items, open_rejections
      )
      SELECT %(list_id)s, family_id, unit_id, display_name, qualifies, qualifies,
             '', NULL, NULL, credits, points, sessions,
             home_items, school_items, behaviour_items, open_rejections
      FROM computed
      ON CONFLICT (family_list_id, family_id) DO UPDATE SET
        unit_id = EXCLUDED.unit_id,
        display_name = EXCLUDED.display_name,
        qualifies = EXCLUDED.qualifies,
        included = CASE WHEN e.override_reason <> '' THEN e.included
                        ELSE EXCLUDED.qualifies END,
        credits = EXCLUDED.credits,
        points = EXCLUDED.points,
        sessions = EXCLUDED.sessions,
        home_items = EXCLUDED.home_items,
        school_items = EXCLUDED.school_items,
        behaviour_items = EXCLUDED.behaviour_items,
        open_rejections = EXCLUDED.open_rejections
      RETURNING e.included
    )
    SELECT (SELECT COUNT(*) FROM written),
           (SELECT COUNT(*) FROM written WHERE included),
           (SELECT COUNT(*) FROM removed)
    """


# --- the portable path (SQLite) ---------------------------------------------------


def portable() -> bool:
    """True where the PostgreSQL statement cannot run (the SQLite of ``make run``)."""
    return connection.vendor != "postgresql"


def _portable_params(params: dict) -> dict:
    # SQLite keeps datetimes as UTC text: the term's bounds are compared as such.
    adapt = connection.ops.adapt_datetimefield_value
    return {
        **params,
        "term_start": adapt(params["term_start"]),
        "term_end": adapt(params["term_end"]),
    }


def _portable_display_name(raw, family_id: int, params: dict) -> str:
    # What _display_name_sql prints, from the same parameters.
    masked = mask_name(raw)
    if not masked:
        return f"{params['fallback_prefix']}{family_id}"
    return f"{masked}{params['suffix']}"


def figures_rows(
    params: dict, *, families: str = "alliance", use_portable: bool | None = None
) -> list[dict]:
    """The figures query's rows as dicts (``figures_sql`` columns), on this
    database: PostgreSQL runs ``figures_sql``, any other the portable variant
    with the names masked here. ``use_portable`` forces one (tests)."""
    if use_portable is None:
        use_portable = portable()
    sql = figures_sql(families=families, portable=use_portable)
    if use_portable:
        params = _portable_params(params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if use_portable:
        for row in rows:
            row["display_name"] = _portable_display_name(
                row["display_name"], row["family_id"], params
            )
            row["credits"] = Decimal(str(row["credits"])).quantize(Decimal("0.1"))
            row["qualifies"] = bool(row["qualifies"])
    return rows


ENTRY_FIGURES = (
    "credits",
    "points",
    "sessions",
    "home_items",
    "school_items",
    "behaviour_items",
    "open_rejections",
)


def entries_upsert_portable(params: dict) -> tuple[int, int, int]:
    """``entries_upsert_sql`` in portable steps, with the same result: delete the
    list's entries of families no longer in the alliance (one DELETE), compute
    the figures (one SELECT), read which entries carry an override reason, and
    write every entry with one ``bulk_create(update_conflicts=True)`` (batched by
    Django where SQLite limits the parameters). Returns (written, included,
    removed). Call inside the transaction that locked the list; the DELETE comes
    first, so on SQLite the transaction holds the write lock before it reads."""
    entry_table = _t(LearningFamilyEntry)
    list_id = params["list_id"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {entry_table} WHERE family_list_id = %(list_id)s "
            f"AND family_id NOT IN (SELECT family_id FROM ({_families_of_alliance_sql()}) fam)",
            {"list_id": list_id, "alliance_id": params["alliance_id"]},
        )
        removed = cursor.rowcount
    rows = figures_rows(params, families="alliance", use_portable=True)
    kept = dict(
        LearningFamilyEntry.objects.filter(family_list_id=list_id)
        .exclude(override_reason="")
        .values_list("family_id", "included")
    )
    entries = [
        LearningFamilyEntry(
            family_list_id=list_id,
            family_id=row["family_id"],
            unit_id=row["unit_id"],
            display_name=row["display_name"],
            qualifies=row["qualifies"],
            # A coordinator's decision with a reason stays; else the rule decides.
            included=kept.get(row["family_id"], row["qualifies"]),
            **{name: row[name] for name in ENTRY_FIGURES},
        )
        for row in rows
    ]
    if entries:
        LearningFamilyEntry.objects.bulk_create(
            entries,
            update_conflicts=True,
            unique_fields=["family_list", "family"],
            update_fields=["unit", "display_name", "qualifies", "included", *ENTRY_FIGURES],
        )
    return len(entries), sum(1 for e in entries if e.included), removed


def entries_upsert(params: dict) -> tuple[int, int, int]:
    """Compute the list's entries on this database: the one PostgreSQL statement
    (``entries_upsert_sql``), else the portable steps. Returns (written,
    included, removed)."""
    if portable():
        return entries_upsert_portable(params)
    with connection.cursor() as cursor:
        cursor.execute(entries_upsert_sql(), params)
        written, included, removed = cursor.fetchone()
    return written, included, removed
