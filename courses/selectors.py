"""Reads for courses: the catalogue with facet counts, a course's sessions,
My learning, rosters and credit balances. Each builds a constant number of
queries, whatever the number of rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
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
from parent_school.models import Term

from . import search
from .filters import FACETS, catalogue_filterset, queryset_without, upcoming_open_sessions
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
    courses: QuerySet
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


def _region_tree(rows, current_key: str | None) -> list[FacetValue]:
    """The region facet as a tree (district → street or town → community), each
    count the courses in the place or anywhere below it, so it equals what the
    region filter (filters.CourseFilter.filter_region) then lists. A course has one
    region, through its parent school, so the sums count no course twice. A city
    with no school of its own is left out and its districts are the top level.
    Places without courses are not shown. One query for the regions."""
    direct = {pk: n for pk, n in rows if pk is not None}
    if not direct:
        return []
    regions = {
        pk: (name, kind, parent)
        for pk, name, kind, parent in Region.objects.values_list("pk", "name", "kind", "parent_id")
    }
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


# Facet counts cost one aggregate query per facet over every published course;
# they depend only on the filters, so they are shared by all visitors for a
# minute. Seats and next sessions on the cards are always live.
FACET_CACHE_SECONDS = 60


def _facet_cache_key(selected: dict) -> str:
    parts = sorted(
        f"{name}={getattr(value, 'pk', value)}"
        for name, value in selected.items()
        if value not in (None, "", False)
    )
    digest = hashlib.sha256("&".join(parts).encode()).hexdigest()[:32]
    return f"courses:facets:v2:{get_language()}:{digest}"


def _facet_counts(filterset, selected: dict) -> tuple[dict[str, list[FacetValue]], int]:
    key = _facet_cache_key(selected)
    cached = cache.get(key)
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
    cache.set(key, (facets, free_count), FACET_CACHE_SECONDS)
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


def course_detail(*, pk: int, include_unpublished: bool = False) -> Course | None:
    courses = Course.objects.select_related(
        "parent_school", "parent_school__region", "parent_school__host_unit", "term", "brand"
    ).prefetch_related("themes", "stages", "instructors", "lessons")
    if not include_unpublished:
        courses = courses.filter(is_published=True)
    return courses.filter(pk=pk).first()


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


def session_list_for_staff(*, user, include_past: bool = False) -> QuerySet[CourseSession]:
    """Sessions of the units this user may see (members/access.py), soonest first."""
    from members import access

    sessions = CourseSession.objects.select_related("offering", "course", "offering__unit")
    if not access.is_district_admin(user):
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
