"""Reads for courses: the catalogue with facet counts, a course's sessions,
My learning, rosters and credit balances. Each builds a constant number of
queries, whatever the number of rows."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from bookings.models import Booking, BookingAttendee, Offering
from bookings.party import guardian_label
from bookings.selectors import (
    BookingDecision,
    booking_active_for_family,
    booking_decision,
)
from members.models import Family, Region, SchoolStage
from members.sharing import ShareCard, absolute_url, default_share_image_url, plain_summary
from parent_school.models import ParentSchool, Term

from . import search
from .filters import (
    FACETS,
    catalogue_filterset,
    queryset_without,
    upcoming_open_sessions,
    with_session_between,
)
from .models import Course, CourseSession, CreditEntry, LessonProgress, OnlineLesson


def course_published() -> QuerySet[Course]:
    return Course.objects.filter(is_published=True)


def course_annotate_for_cards(
    queryset: QuerySet[Course], *, words: tuple[search.SearchWord, ...] = (), query: str = ""
) -> QuerySet[Course]:
    """The list's rows, in catalogue order (by the stored, indexed next session);
    with search words, best match first (courses/search.py), then by next session."""
    queryset = (
        queryset.defer("body")
        .select_related("parent_school", "parent_school__region", "term", "brand")
        .prefetch_related("themes")
    )
    order = [F("next_session_at").asc(nulls_last=True), "-pk"]
    if words:
        # search_partial: the course has only some of the words (the page says so).
        queryset = queryset.annotate(**search.search_annotations(words, query)).annotate(
            search_partial=Case(
                When(search_matched__lt=len(words), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        order = ["-search_rank", *order]
    return queryset.order_by(*order)


def course_cards_attach_live(courses: list[Course]) -> list[Course]:
    """Set ``next_start`` and ``has_free`` on one page of courses, in one query.

    Computed for the page only: as an annotation on the list query, PostgreSQL
    would evaluate it for every row skipped by OFFSET on deep pages.
    """
    now = timezone.now()
    rows = (
        CourseSession.objects.filter(
            course__in=[course.pk for course in courses],
            offering__status=Offering.Status.OPEN,
            offering__starts_at__gt=now,
        )
        .values("course")
        .annotate(
            next_start=Min("offering__starts_at"),
            free_sessions=Count("pk", filter=Q(offering__places_taken__lt=F("offering__capacity"))),
        )
        .order_by()
    )
    live = {row["course"]: row for row in rows} if courses else {}
    for course in courses:
        row = live.get(course.pk)
        course.next_start = row["next_start"] if row else None
        course.has_free = bool(row and row["free_sessions"])
    return courses


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    # The region facet is a tree: a district's streets, a street's communities.
    children: list[FacetValue] = field(default_factory=list)


@dataclass
class Catalogue:
    filterset: object
    # The filtered, sorted courses (course_catalogue); None from course_catalogue_page,
    # whose page holds its cards.
    courses: QuerySet | None
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    free_count: int = 0
    invalid: bool = False
    # The words searched for (empty: no search, or a query with no word in it).
    search_words: tuple[search.SearchWord, ...] = ()
    # A query was typed but had nothing to search for (only punctuation).
    search_ignored: bool = False


def _facet_rows(queryset, facet: str):
    """(value, label, count) for one facet, in one aggregate query. Every count is
    of distinct courses, the unit the list shows, whatever joins a filter added."""
    base = queryset.order_by()
    courses = Count("pk", distinct=True)
    if facet == "theme":
        rows = base.values_list("themes", "themes__name").annotate(n=courses)
        return [(v, label, n) for v, label, n in rows if v is not None]
    if facet == "stage":
        labels = dict(SchoolStage.choices)
        rows = base.values_list("stages__code").annotate(n=courses)
        return [(v, labels.get(v, v), n) for v, n in rows if v]
    if facet in ("level", "mode"):
        choices = dict(Course.Level.choices if facet == "level" else Course.Mode.choices)
        rows = base.values_list(facet).annotate(n=courses)
        return [(v, choices.get(v, v), n) for v, n in rows]
    if facet == "region":
        # Courses per parent school's own region; _region_tree adds them up the tree.
        return list(base.values_list("parent_school__region").annotate(n=courses))
    if facet == "parent_school":
        rows = base.values_list("parent_school", "parent_school__name").annotate(n=courses)
        return list(rows)
    if facet == "term":
        rows = base.values_list("term", "term__school_year", "term__semester").annotate(n=courses)
        semesters = dict(Term.Semester.choices)
        return [
            (
                v,
                _("%(year)s学年%(semester)s") % {"year": year, "semester": semesters.get(sem, sem)},
                n,
            )
            for v, year, sem, n in rows
        ]
    raise ValueError(facet)


def _region_tree(rows, current_key: str | None, regions: dict | None = None) -> list[FacetValue]:
    """The region facet as a tree (district → street or town → community), each
    count the courses in the place or anywhere below it, so it equals what the
    region filter (filters.CourseFilter.filter_region) then lists. A course has one
    region, through its parent school, so the sums count no course twice. A city
    with no school of its own is left out and its districts are the top level.
    Places without courses are not shown. One query for the regions."""
    direct = {pk: n for pk, n in rows if pk is not None}
    if not direct:
        return []
    if regions is None:
        regions = _regions()
    totals: dict[int, int] = {}
    for pk, n in direct.items():
        seen: set[int] = set()
        while pk in regions and pk not in seen:  # a loop in bad data must not hang
            seen.add(pk)
            totals[pk] = totals.get(pk, 0) + n
            pk = regions[pk][2]
    nodes = {
        pk: FacetValue(
            value=str(pk), label=regions[pk][0], count=n, selected=str(pk) == current_key
        )
        for pk, n in totals.items()
    }
    roots = []
    for pk, node in nodes.items():
        parent = regions[pk][2]
        if parent in nodes and _region_shown(parent, regions, direct):
            nodes[parent].children.append(node)
        elif _region_shown(pk, regions, direct):
            roots.append(node)
        else:  # a city without schools of its own: its children are top-level
            continue

    def order(values: list[FacetValue]) -> list[FacetValue]:
        values.sort(key=lambda fv: (-fv.count, fv.label))
        for fv in values:
            order(fv.children)
        return values

    return order(roots)


def _region_shown(pk: int, regions: dict, direct: dict) -> bool:
    return regions[pk][1] != Region.Kind.CITY or pk in direct


def facet_values_flat(values: list[FacetValue]) -> list[FacetValue]:
    """Every value of a facet, the region tree's included, parents first."""
    flat = []
    for fv in values:
        flat.append(fv)
        flat.extend(facet_values_flat(fv.children))
    return flat


# Facet counts depend only on the filters, so they are shared by all visitors for
# a minute (settings.COURSE_FACET_CACHE_SECONDS; 0: never shared, as in the bench's
# "nothing reused"). Seats and next sessions on the cards are always live.


def _facet_cache_seconds() -> int:
    return settings.COURSE_FACET_CACHE_SECONDS


def _facet_cache_key(selected: dict) -> str:
    parts = sorted(
        f"{name}={getattr(value, 'pk', value)}"
        for name, value in selected.items()
        if value not in (None, "", False)
    )
    digest = hashlib.sha256("&".join(parts).encode()).hexdigest()[:32]
    return f"courses:facets:v2:{get_language()}:{digest}"


def _facet_counts(filterset, selected: dict) -> tuple[dict[str, list[FacetValue]], int]:
    seconds = _facet_cache_seconds()
    key = _facet_cache_key(selected)
    cached = cache.get(key) if seconds > 0 else None
    if cached is not None:
        return cached
    facets: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        current = selected.get(facet)
        current_key = str(getattr(current, "pk", current)) if current not in (None, "") else None
        rows = _facet_rows(queryset_without(filterset, facet), facet)
        if facet == "region":
            facets[facet] = _region_tree(rows, current_key)
            continue
        values = [
            FacetValue(value=str(v), label=str(label), count=n, selected=str(v) == current_key)
            for v, label, n in rows
        ]
        values.sort(key=lambda fv: (-fv.count, fv.label))
        facets[facet] = values
    free_count = (
        queryset_without(filterset, "free")
        .filter(
            Exists(
                upcoming_open_sessions().filter(offering__places_taken__lt=F("offering__capacity"))
            )
        )
        .count()
    )
    if seconds > 0:
        cache.set(key, (facets, free_count), seconds)
    return facets, free_count


def course_catalogue(*, data) -> Catalogue:
    """Filtered, sorted courses plus counts per facet value (each facet's counts
    ignore that facet's own choice, so other values stay visible)."""
    filterset = catalogue_filterset(data, course_published())
    invalid = bool(filterset.is_bound and filterset.errors)
    filtered = filterset.qs
    selected = filterset.form.cleaned_data if filterset.is_bound else {}
    facets, free_count = _facet_counts(filterset, selected)
    query = selected.get("q") or ""
    words = search.search_words(query)
    return Catalogue(
        filterset=filterset,
        courses=course_annotate_for_cards(filtered, words=words, query=query),
        facets=facets,
        free_count=free_count,
        invalid=invalid,
        search_words=words,
        search_ignored=bool(query) and not words,
    )


# The catalogue page in a constant few queries (PostgreSQL) ---------------------------
#
# A cold page is: the chosen values checked (one small query per chosen theme,
# school, term or place, by the filter form), the regions (one), then ONE query for
# every facet's counts, the free count, the total and the page's ids (with a search,
# the ranked matches are a subquery of it: search.search_ranked_sql), and one for the
# page's cards. The counting
# query reads each published course once, through the covering index
# course_catalogue_facet_sets (migration 0008: an index-only scan, not the 30 MB of
# texts; the courses' theme and stage ids are arrays in it), into a CTE with one boolean per chosen filter; each facet's counts are
# then a GROUP BY over the rows that pass every other chosen filter. "Has free
# places" is the set of courses with a free upcoming session, shared for
# COURSE_FREE_SEATS_SECONDS (30 s: the freshness the badges may have); the cards'
# own badges are read live with the page.


class _KnownCountPaginator(Paginator):
    """A paginator whose count is already known (from the counting query)."""

    def __init__(self, count: int, per_page: int):
        super().__init__([], per_page)
        self.__dict__["count"] = count


def _requested_page(value) -> int:
    """The page asked for, read as Paginator.validate_number reads it (not a whole
    number → 1); the caller sends a number out of range to the last page, as
    Paginator.get_page does."""
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        return 1


def _free_course_ids() -> list[int]:
    """Published courses with a free place in an open, upcoming session, shared
    for COURSE_FREE_SEATS_SECONDS (a page's own cards are always read live)."""
    seconds = settings.COURSE_FREE_SEATS_SECONDS
    key = "courses:free-course-ids:v1"
    ids = cache.get(key) if seconds > 0 else None
    if ids is None:
        ids = list(
            CourseSession.objects.filter(
                offering__status=Offering.Status.OPEN,
                offering__starts_at__gt=timezone.now(),
                offering__places_taken__lt=F("offering__capacity"),
            )
            .order_by()
            .values_list("course_id", flat=True)
            .distinct()
        )
        if seconds > 0:
            cache.set(key, ids, seconds)
    return ids


def _conditions(filterset, selected: dict) -> dict:
    """One boolean expression per chosen facet (and 「只看有空位」), true for a course
    the facet's own filter keeps: the same tests as filters.CourseFilter. Themes and
    stages are tested on the course's own id arrays (migration 0008), not by a
    subquery of the many-to-many tables."""
    conditions = {}
    for name in (*FACETS, "free"):
        value = selected.get(name)
        if value in (None, "", False):
            continue
        if name == "theme":
            condition = RawSQL('%s = ANY("courses_course"."theme_ids")', (value.pk,))
        elif name == "stage":
            condition = RawSQL(
                'COALESCE((SELECT id FROM courses_stage WHERE code = %s) = ANY("courses_course"'
                '."stage_ids"), FALSE)',
                (value,),
            )
        elif name in ("level", "mode"):
            condition = Q(**{name: value})
        elif name == "region":
            # The schools of the place and below (a hashed subquery, no join per course).
            schools = ParentSchool.objects.filter(region__in=filterset.region_and_below(value.pk))
            condition = Q(parent_school__in=schools.values("pk"))
        elif name in ("parent_school", "term"):
            condition = Q(**{f"{name}_id": value.pk})
        else:  # free
            condition = Q(search.PkInArray(_free_course_ids()))
        conditions[name] = ExpressionWrapper(condition, output_field=BooleanField())
    return conditions


def _where(conditions: dict, *, without: str | None = None) -> str:
    names = [f'"f_{name}"' for name in conditions if name != without]
    return " AND ".join(names) if names else "TRUE"


class CatalogueKey(NamedTuple):
    """Where a course stands in the catalogue's order, which is total: best match
    first (``rank``, with a search only), then the next session (courses without
    one last), then the newer course. A keyset page starts after such a key, so a
    course added meanwhile is never shown twice nor makes another one skipped."""

    rank: int | None
    next_session_at: datetime.datetime | None
    id: int


def _after_key_sql(after: CatalogueKey | None, *, ranked: bool) -> tuple[str, list]:
    """The courses after ``after`` in the catalogue's order, as SQL on the CTE's rows."""
    if after is None:
        return "TRUE", []
    if after.next_session_at is None:  # among the courses without a session: by id
        sql, params = '("next_session_at" IS NULL AND id < %s)', [after.id]
    else:
        sql = (
            '("next_session_at" > %s OR "next_session_at" IS NULL OR '
            '("next_session_at" = %s AND id < %s))'
        )
        params = [after.next_session_at, after.next_session_at, after.id]
    if ranked:
        sql = f"(rank < %s OR (rank = %s AND {sql}))"
        params = [after.rank or 0, after.rank or 0, *params]
    return sql, params


def _catalogue_query(
    filterset,
    selected: dict,
    *,
    ranked: search.RankedSql | None,
    page: int,
    per_page: int,
    counts: bool,
    after: CatalogueKey | None = None,
    keyset: bool = False,
) -> tuple[list[tuple], list[int], int, dict]:
    """(facet rows, the page's course ids, total, the page's {id: (matched, rank)}) in
    one query; facet rows are (facet, value, label, count), only when ``counts``.
    With a search, ``ranked`` (search.search_ranked_sql) is joined in the same
    statement: the matches are ranked, counted and paged without leaving the
    database. With ``keyset`` the page is the ``per_page`` courses after the key
    ``after`` in the same order (None: from the start) instead of a page number."""
    conditions = _conditions(filterset, selected)
    base = with_session_between(
        course_published(), selected.get("date_from"), selected.get("date_to")
    )
    columns = base.order_by().values(
        "id", "level", "mode", "term_id", "parent_school_id", "next_session_at"
    )
    if counts:  # the arrays of migration 0008, in its covering index
        columns = columns.annotate(
            theme_ids=RawSQL('"courses_course"."theme_ids"', (), ArrayField(BigIntegerField())),
            stage_ids=RawSQL('"courses_course"."stage_ids"', (), ArrayField(BigIntegerField())),
        )
    annotations = {f"f_{name}": condition for name, condition in conditions.items()}
    if counts and "free" not in conditions:
        annotations["f_free"] = ExpressionWrapper(
            Q(search.PkInArray(_free_course_ids())), output_field=BooleanField()
        )
    columns = columns.annotate(**annotations)
    inner, params = columns.query.sql_with_params()
    params = list(params)
    join, order = "", 'b0."next_session_at" ASC NULLS LAST, b0."id" DESC'
    # work_mem: a search for a word every course holds materialises 20,000 rows in
    # the CTE, which spilled to disk at the default 4 MB.
    settings = ("random_page_cost = 1.1", "work_mem = '16MB'")
    if ranked is not None:
        join = f" JOIN ({ranked.sql}) r ON r.id = b0.id"
        params.extend(ranked.params)
        order = 'r.rank DESC, b0."next_session_at" ASC NULLS LAST, b0."id" DESC'
        settings += ranked.settings
    failing = " + ".join(f'(NOT b0."f_{name}")::int' for name in conditions)
    keep = f"WHERE {failing} <= 1" if counts and len(conditions) > 1 else ""
    if not counts and conditions:  # only the list: every chosen filter holds
        keep = "WHERE " + " AND ".join(f'b0."f_{name}"' for name in conditions)
    rank = ", r.matched, r.rank" if ranked is not None else ""
    cte = f"WITH b AS MATERIALIZED (SELECT b0.*{rank} FROM ({inner}) b0{join} {keep}) "
    everything = _where(conditions)
    order_b = order.replace("b0.", "").replace("r.rank", "rank")
    # With a search each id carries its words matched and rank: "id:matched:rank".
    card = "id || ':' || matched || ':' || rank" if ranked is not None else "id"
    page_sql = (
        f"SELECT 'page', NULL, array_to_string(ARRAY(SELECT {card} FROM b WHERE {everything} "
        f"ORDER BY {order_b} LIMIT %s OFFSET %s * (CASE WHEN %s < 1 OR %s > pages.n THEN "
        f"pages.n ELSE %s END - 1)), ','), pages.total FROM (SELECT count(*) AS total, "
        f"GREATEST(1, CEIL(count(*) / %s::numeric))::int AS n FROM b WHERE {everything}) pages"
    )
    page_params = [per_page, per_page, page, page, page, per_page]
    if keyset:
        following, page_params = _after_key_sql(after, ranked=ranked is not None)
        page_sql = (
            f"SELECT 'page', NULL, array_to_string(ARRAY(SELECT {card} FROM b WHERE {everything}"
            f" AND {following} ORDER BY {order_b} LIMIT %s), ','), (SELECT count(*) FROM b "
            f"WHERE {everything})"
        )
        page_params.append(per_page)
    branches, branch_params = [page_sql], [page_params]
    if counts:
        for name in ("level", "mode"):
            branches.append(
                f"SELECT '{name}', \"{name}\"::text, NULL, count(*) FROM b "
                f"WHERE {_where(conditions, without=name)} GROUP BY 2"
            )
        branches.append(
            "SELECT 'region', ps.region_id::text, NULL, sum(x.n)::bigint FROM (SELECT "
            f"parent_school_id AS v, count(*) AS n FROM b WHERE {_where(conditions, without='region')} "
            "GROUP BY 1) x JOIN parent_school_parentschool ps ON ps.id = x.v GROUP BY ps.region_id"
        )
        branches.append(
            "SELECT 'parent_school', x.v::text, ps.name, x.n FROM (SELECT parent_school_id "
            f"AS v, count(*) AS n FROM b WHERE {_where(conditions, without='parent_school')} "
            "GROUP BY 1) x JOIN parent_school_parentschool ps ON ps.id = x.v"
        )
        branches.append(
            "SELECT 'term', x.v::text, t.school_year || '|' || t.semester::text, x.n FROM "
            f"(SELECT term_id AS v, count(*) AS n FROM b WHERE {_where(conditions, without='term')} "
            "GROUP BY 1) x JOIN parent_school_term t ON t.id = x.v"
        )
        branches.append(
            "SELECT 'theme', x.v::text, th.name, x.n FROM (SELECT v, count(*) AS n FROM b, "
            f"unnest(b.theme_ids) AS v WHERE {_where(conditions, without='theme')} GROUP BY v) x "
            "JOIN courses_theme th ON th.id = x.v"
        )
        branches.append(
            "SELECT 'stage', st.code, NULL, x.n FROM (SELECT v, count(*) AS n FROM b, "
            f"unnest(b.stage_ids) AS v WHERE {_where(conditions, without='stage')} GROUP BY v) x "
            "JOIN courses_stage st ON st.id = x.v"
        )
        branches.append(
            "SELECT 'free', NULL, NULL, count(*) FROM b "
            f'WHERE {_where(conditions, without="free")} AND "f_free"'
        )
        branch_params.extend([[]] * 8)
    sql = cte + " UNION ALL ".join(branches)
    for extra in branch_params:
        params.extend(extra)
    with connection.cursor() as cursor:
        # The covering index is an eighth of the table's pages, all in memory; at the
        # default random_page_cost (4, for spinning disks) the planner reads the table.
        # SET LOCAL in the same statement and reset after it (search.with_settings),
        # with the search's own settings when it is joined.
        cursor.execute(search.with_settings(sql, settings), params)
        rows = search.fetch_last(cursor)
    ids: list[int] = []
    scores: dict[int, tuple[int, int]] = {}
    total = 0
    facet_rows = []
    for facet, value, label, n in rows:
        if facet == "page":
            for card in label.split(",") if label else []:
                pk, *score = (int(part) for part in card.split(":"))
                ids.append(pk)
                if score:
                    scores[pk] = tuple(score)
            total = n
        else:
            facet_rows.append((facet, value, label, n))
    return facet_rows, ids, total, scores


def _facet_values(facet_rows, selected: dict, regions: dict) -> tuple[dict, int]:
    """The facets as the page shows them, from the counting query's rows."""
    by_facet: dict[str, list] = {name: [] for name in FACETS}
    free_count = 0
    for facet, value, label, n in facet_rows:
        if facet == "free":
            free_count = n
        else:
            by_facet[facet].append((value, label, n))
    semesters = dict(Term.Semester.choices)
    labels = {
        "stage": dict(SchoolStage.choices),
        "level": dict(Course.Level.choices),
        "mode": dict(Course.Mode.choices),
    }
    facets: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        current = selected.get(facet)
        current_key = str(getattr(current, "pk", current)) if current not in (None, "") else None
        rows = by_facet[facet]
        if facet == "region":
            facets[facet] = _region_tree(
                [(int(v), n) for v, _label, n in rows if v is not None], current_key, regions
            )
            continue
        values = []
        for value, label, n in rows:
            if value is None:
                continue
            if facet in labels:
                label = labels[facet].get(value, value)
            elif facet == "term":
                year, semester = label.split("|")
                label = _("%(year)s学年%(semester)s") % {
                    "year": year,
                    "semester": semesters.get(int(semester), semester),
                }
            values.append(
                FacetValue(value=value, label=str(label), count=n, selected=value == current_key)
            )
        values.sort(key=lambda fv: (-fv.count, fv.label))
        facets[facet] = values
    return facets, free_count


def _regions() -> dict:
    return {
        pk: (name, kind, parent)
        for pk, name, kind, parent in Region.objects.values_list("pk", "name", "kind", "parent_id")
    }


@dataclass
class CataloguePage:
    catalogue: Catalogue
    page: Page


def course_catalogue_page(*, data, page, per_page: int) -> CataloguePage:
    """The catalogue and one page of its cards, in a constant few queries whatever
    the number of courses (see above). On SQLite: course_catalogue and a Paginator."""
    if connection.vendor != "postgresql":
        result = course_catalogue(data=data)
        page_obj = Paginator(result.courses, per_page).get_page(page)
        page_obj.object_list = course_cards_attach_live(list(page_obj.object_list))
        for course in page_obj.object_list:
            course.theme_names = [theme.name for theme in course.themes.all()]
        return CataloguePage(catalogue=result, page=page_obj)
    number = _requested_page(page)
    result, courses, total = _catalogue_found(data, page=number, per_page=per_page)
    paginator = _KnownCountPaginator(total, per_page)
    number = number if 1 <= number <= paginator.num_pages else paginator.num_pages
    return CataloguePage(catalogue=result, page=Page(courses, number, paginator))


def _catalogue_found(
    data, *, page: int = 1, per_page: int, keyset: bool = False, after: CatalogueKey | None = None
) -> tuple[Catalogue, list[Course], int]:
    """(the catalogue with its facets, one page's cards, total) on PostgreSQL: by page
    number (the page) or, with ``keyset``, the cards after ``after`` (the API)."""
    filterset = catalogue_filterset(data, course_published())
    invalid = bool(filterset.is_bound and filterset.errors)
    selected = filterset.form.cleaned_data if filterset.is_bound else {}
    query = selected.get("q") or ""
    words = search.search_words(query)
    seconds = _facet_cache_seconds()
    key = _facet_cache_key(selected)
    cached = cache.get(key) if seconds > 0 else None
    regions = None
    if cached is None or selected.get("region"):
        regions = _regions()
        filterset.use_regions(regions)
    ranked = search.search_ranked_sql(course_published(), words, query) if words else None
    rows, ids, total, scores = _catalogue_query(
        filterset,
        selected,
        ranked=ranked,
        page=page,
        per_page=per_page,
        counts=cached is None,
        after=after,
        keyset=keyset,
    )
    if cached is None:
        facets, free_count = _facet_values(rows, selected, regions)
        if seconds > 0:
            cache.set(key, (facets, free_count), seconds)
    else:
        facets, free_count = cached
    courses = _page_cards(ids, scores, len(words))
    result = Catalogue(
        filterset=filterset,
        courses=None,  # the page's cards are found by the counting query
        facets=facets,
        free_count=free_count,
        invalid=invalid,
        search_words=words,
        search_ignored=bool(query) and not words,
    )
    return result, courses, total


@dataclass
class CatalogueSlice:
    """One keyset page of the catalogue (the API's cursor pages): the same
    catalogue, facets and order as the page, the cards after a key, and the key
    of the last card when more follow (None: this was the last page)."""

    catalogue: Catalogue
    courses: list[Course]
    total: int
    next_key: CatalogueKey | None


def _card_key(course: Course, *, ranked: bool) -> CatalogueKey:
    rank = getattr(course, "search_rank", None) if ranked else None
    return CatalogueKey(rank=rank, next_session_at=course.next_session_at, id=course.pk)


def course_catalogue_slice(*, data, after: CatalogueKey | None, per_page: int) -> CatalogueSlice:
    """The catalogue's courses after ``after`` (None: the first ones), ``per_page`` of
    them, with the page's facets, search and order (course_catalogue_page): the
    same constant few queries on PostgreSQL. Read one more card than asked to know
    whether another page follows. On SQLite: course_catalogue, filtered past the key."""
    if connection.vendor != "postgresql":
        result = course_catalogue(data=data)
        courses = result.courses
        total = courses.count()
        if after is not None:
            courses = courses.filter(_after_key_q(after, ranked=bool(result.search_words)))
        cards = course_cards_attach_live(list(courses[: per_page + 1]))
        for course in cards:
            course.theme_names = [theme.name for theme in course.themes.all()]
    else:
        result, cards, total = _catalogue_found(
            data, per_page=per_page + 1, keyset=True, after=after
        )
    next_key = None
    if len(cards) > per_page:
        cards = cards[:per_page]
        next_key = _card_key(cards[-1], ranked=bool(result.search_words))
    return CatalogueSlice(catalogue=result, courses=cards, total=total, next_key=next_key)


def _after_key_q(after: CatalogueKey, *, ranked: bool) -> Q:
    """_after_key_sql for the ORM's queryset (SQLite): the same order, the same test."""
    if after.next_session_at is None:
        following = Q(next_session_at__isnull=True, pk__lt=after.id)
    else:
        following = (
            Q(next_session_at__gt=after.next_session_at)
            | Q(next_session_at__isnull=True)
            | Q(next_session_at=after.next_session_at, pk__lt=after.id)
        )
    if ranked:
        rank = after.rank or 0
        following = Q(search_rank__lt=rank) | (Q(search_rank=rank) & following)
    return following


def _page_cards(ids: list[int], scores: dict, words: int) -> list[Course]:
    """The page's courses in the page's order, with their themes' names and live
    next session and free places, in one query; with a search, each course's
    search_matched, search_rank and search_partial (some of the words only)."""
    if not ids:
        return []
    now = timezone.now()
    upcoming = CourseSession.objects.filter(
        course=OuterRef("pk"),
        offering__status=Offering.Status.OPEN,
        offering__starts_at__gt=now,
    ).order_by()
    courses = (
        Course.objects.filter(pk__in=ids)
        .defer("body")
        .select_related("parent_school", "parent_school__region", "term", "brand")
        .annotate(
            theme_names=ArraySubquery(
                Course.themes.through.objects.filter(course_id=OuterRef("pk"))
                .order_by("theme__sort_order", "theme__name")
                .values("theme__name")
            ),
            next_start=Subquery(
                upcoming.values("course").annotate(first=Min("offering__starts_at")).values("first")
            ),
            has_free=Exists(upcoming.filter(offering__places_taken__lt=F("offering__capacity"))),
        )
        .order_by()
    )
    by_pk = {course.pk: course for course in courses}
    cards = []
    for pk in ids:
        course = by_pk.get(pk)
        if course is not None:
            if words:
                course.search_matched, course.search_rank = scores[pk]
                course.search_partial = course.search_matched < words
            cards.append(course)
    return cards


def course_detail(*, pk: int, include_unpublished: bool = False) -> Course | None:
    courses = Course.objects.select_related(
        "parent_school", "parent_school__region", "parent_school__host_unit", "term", "brand"
    ).prefetch_related("themes", "stages", "instructors", "lessons")
    if not include_unpublished:
        courses = courses.filter(is_published=True)
    return courses.filter(pk=pk).first()


def course_session_public(
    *, pk: int | None = None, offering_id: int | None = None
) -> CourseSession | None:
    """A session of a published course, by its id or its offering's (what a family
    may see and book, as the course page shows it); None for any other."""
    if pk is None and offering_id is None:
        return None
    sessions = CourseSession.objects.filter(course__is_published=True).select_related(
        "offering", "course", "course__parent_school", "course__term"
    )
    if pk is not None:
        sessions = sessions.filter(pk=pk)
    if offering_id is not None:
        sessions = sessions.filter(offering_id=offering_id)
    return sessions.defer("course__body").first()


def course_sessions(*, course: Course, upcoming_only: bool = False) -> list[CourseSession]:
    sessions = (
        CourseSession.objects.filter(course=course)
        .select_related("offering")
        .order_by("offering__starts_at")
    )
    if upcoming_only:
        sessions = sessions.filter(offering__ends_at__gte=timezone.now())
    return list(sessions)


@dataclass(frozen=True)
class SessionRow:
    """A session on the course page, with what the viewer's family may do there."""

    session: CourseSession
    decision: BookingDecision


def course_session_rows(
    *, sessions: list[CourseSession], family: Family | None
) -> list[SessionRow]:
    """Each session with the booking decision for ``family`` (None: not signed in or
    no family yet), one query for the family's bookings whatever the number of rows."""
    mine = booking_active_for_family(family=family, offering_ids=[s.offering_id for s in sessions])
    now = timezone.now()
    return [
        SessionRow(
            session=s,
            decision=booking_decision(
                offering=s.offering, booking=mine.get(s.offering_id), now=now
            ),
        )
        for s in sessions
    ]


def _attendees():
    return Prefetch(
        "attendees",
        queryset=BookingAttendee.objects.select_related("guardian__user", "child"),
    )


@dataclass
class CreditBalance:
    term: Term
    member: str
    total: object


def credit_balances(*, family: Family) -> list[CreditBalance]:
    """Balances per family member and per term, summed in SQL."""
    rows = (
        CreditEntry.objects.filter(family=family)
        .order_by()
        .values("term", "guardian", "child")
        .annotate(total=Sum("amount"))
    )
    rows = list(rows)
    terms = Term.objects.in_bulk({r["term"] for r in rows})
    guardians = {g.pk: g for g in family.guardians.select_related("user")}
    children = {c.pk: c for c in family.children.all()}
    balances = []
    for row in rows:
        if row["child"]:
            child = children.get(row["child"])
            member = child.nickname if child else "—"
        elif row["guardian"]:
            guardian = guardians.get(row["guardian"])
            member = guardian_label(guardian) if guardian else "—"
        else:
            member = "—"
        balances.append(CreditBalance(term=terms[row["term"]], member=member, total=row["total"]))
    balances.sort(key=lambda b: (-b.term.starts_on.toordinal(), b.member))
    return balances


def credit_recent(*, family: Family, limit: int = 20) -> list[CreditEntry]:
    return list(
        CreditEntry.objects.filter(family=family)
        .select_related("course", "term", "guardian__user", "child")
        .order_by("-created_at", "-pk")[:limit]
    )


# Roster ------------------------------------------------------------------------


def session_roster(*, session: CourseSession) -> list[Booking]:
    return list(
        Booking.objects.filter(offering_id=session.offering_id, status=Booking.Status.CONFIRMED)
        .select_related("family", "booked_by")
        .prefetch_related(_attendees())
        .order_by("created_at", "pk")
    )


def session_waiting(*, session: CourseSession) -> list[Booking]:
    return list(
        Booking.objects.filter(offering_id=session.offering_id, status=Booking.Status.WAITING)
        .select_related("booked_by")
        .order_by("created_at", "pk")
    )


def session_for_staff(*, pk: int) -> CourseSession | None:
    return (
        CourseSession.objects.select_related("offering", "offering__unit", "course")
        .filter(pk=pk)
        .first()
    )


def session_for_staff_by_offering(*, offering_id: int) -> CourseSession | None:
    """``session_for_staff`` by the session's offering (the API names offerings)."""
    return (
        CourseSession.objects.select_related("offering", "offering__unit", "course")
        .filter(offering_id=offering_id)
        .first()
    )


def session_list_for_staff(*, user, include_past: bool = False) -> QuerySet[CourseSession]:
    """Sessions of the units this user may see (members/access.py), soonest first."""
    from members import access

    sessions = CourseSession.objects.select_related("offering", "course", "offering__unit")
    if not access.sees_every_district(user):
        sessions = sessions.filter(offering__unit__in=access.visible_unit_ids(user))
    now = timezone.now()
    if include_past:
        return sessions.filter(offering__starts_at__lt=now).order_by("-offering__starts_at")
    return sessions.filter(offering__ends_at__gte=now).order_by("offering__starts_at")


# Online lessons ------------------------------------------------------------------


def lesson_published() -> QuerySet[OnlineLesson]:
    return OnlineLesson.objects.filter(course__is_published=True)


def lesson_for_viewer(*, pk: int) -> OnlineLesson | None:
    """A lesson of a published course (anyone may watch; progress needs a family)."""
    return (
        lesson_published()
        .select_related("course", "course__parent_school", "course__term")
        .defer("course__body")
        .filter(pk=pk)
        .first()
    )


def lesson_progress_for_family(*, lesson: OnlineLesson, family: Family) -> LessonProgress | None:
    return LessonProgress.objects.filter(lesson=lesson, family=family).first()


def lesson_resume_at(*, lesson: OnlineLesson, progress: LessonProgress | None) -> float:
    """Where the player starts: the last position, unless the video was (nearly)
    at its end, which starts it again."""
    if progress is None or progress.position_seconds >= lesson.duration_seconds - 3:
        return 0.0
    return round(progress.position_seconds, 1)


@dataclass
class LessonList:
    form: object
    lessons: QuerySet
    invalid: bool = False


def lesson_list(*, data) -> LessonList:
    """Lessons of published courses, newest first, filtered by the lesson list's
    form (courses/lesson_forms.py). Themes and stages are the course's, matched
    with EXISTS, so a lesson is never listed twice. Invalid values are dropped and
    reported, never a 500."""
    from .lesson_forms import DURATIONS, LessonFilterForm

    form = LessonFilterForm(data if data else None)
    invalid = form.is_bound and not form.is_valid()
    chosen = form.cleaned_data if form.is_bound else {}
    lessons = lesson_published()
    if chosen.get("q"):
        lessons = lessons.filter(
            Q(title__icontains=chosen["q"]) | Q(course__title__icontains=chosen["q"])
        )
    if chosen.get("theme"):
        lessons = lessons.filter(
            Exists(
                Course.themes.through.objects.filter(
                    course_id=OuterRef("course_id"), theme_id=chosen["theme"].pk
                )
            )
        )
    if chosen.get("stage"):
        lessons = lessons.filter(
            Exists(
                Course.stages.through.objects.filter(
                    course_id=OuterRef("course_id"), stage__code=chosen["stage"]
                )
            )
        )
    if chosen.get("duration"):
        _label, low, high = DURATIONS[chosen["duration"]]
        if low is not None:
            lessons = lessons.filter(duration_seconds__gte=low)
        if high is not None:
            lessons = lessons.filter(duration_seconds__lte=high)
    if chosen.get("source") == "here":
        lessons = lessons.exclude(video_file="")
    elif chosen.get("source") == "outside":
        lessons = lessons.filter(video_file="")
    lessons = (
        lessons.select_related("course", "course__parent_school")
        .defer("course__body", "course__summary")
        .order_by("-pk")
    )
    return LessonList(form=form, lessons=lessons, invalid=invalid)


def lesson_progress_attach(lessons: list[OnlineLesson], *, family: Family | None) -> list:
    """Set ``my_progress`` (the family's progress or None) on one page of lessons, in
    one query."""
    rows = {}
    if family is not None and lessons:
        rows = {
            p.lesson_id: p
            for p in LessonProgress.objects.filter(
                family=family, lesson__in=[lesson.pk for lesson in lessons]
            )
        }
    for lesson in lessons:
        lesson.my_progress = rows.get(lesson.pk)
    return lessons


@dataclass
class TermCredits:
    term: Term
    total: Decimal
    lessons: Decimal
    lessons_completed: int


def term_credits(*, family: Family, term: Term | None = None) -> TermCredits | None:
    """The family's credits this term (the current one unless given): all of them,
    the online lessons' share (their reversals subtracted) and how many lessons
    earned one. Two queries."""
    term = term or Term.objects.filter(is_current=True).first()
    if term is None:
        return None
    lesson = CreditEntry.Reason.ONLINE_LESSON
    figures = CreditEntry.objects.filter(family=family, term=term).aggregate(
        total=Sum("amount"),
        lessons=Sum(
            "amount",
            filter=Q(reason=lesson)
            | Q(reason=CreditEntry.Reason.CORRECTION, reverses__reason=lesson),
        ),
        completed=Count("pk", filter=Q(reason=lesson, reversed_by__isnull=True)),
    )
    return TermCredits(
        term=term,
        total=figures["total"] or Decimal("0"),
        lessons=figures["lessons"] or Decimal("0"),
        lessons_completed=figures["completed"],
    )


def course_share(course: Course) -> ShareCard:
    """The card a link to this course shows in a chat (its page's Open Graph tags,
    the API's course answer) and the mini-program page for it. Courses carry no
    picture of their own, so the card shows the portal's share picture."""
    where = " · ".join(part for part in (course.parent_school.name, str(course.term)) if part)
    return ShareCard(
        title=course.title,
        summary=plain_summary(course.summary, course.body, where),
        image_url=default_share_image_url(),
        url=absolute_url(reverse("courses:detail", args=[course.pk])),
        miniprogram_path=f"pages/course/detail?id={course.pk}",
    )
