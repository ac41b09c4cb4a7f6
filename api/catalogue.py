"""API: the course catalogue, a course and a session, for anyone (docs/API.md).

The same reads as the pages: the catalogue is ``courses.selectors``'s counting
statement (the /courses/ page's facets, search and order) paged by a keyset
cursor instead of a page number; a course and a session carry live free places
and what the caller's family may do, decided by ``bookings.selectors``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.utils.translation import get_language
from ninja import Path, Query, Router, Schema
from ninja.responses import NinjaJSONEncoder
from pydantic import Field

from bookings.models import Booking
from bookings.selectors import BookingDecision, booking_annotate_waiting_position
from courses import selectors
from courses.selectors import CatalogueKey, FacetValue
from courses.services import family_of

from .errors import ApiError
from .pagination import cursor_make, cursor_read
from .schemas import ErrorOut

router = Router(tags=["catalogue"])

# Ids in paths and bodies: larger numbers are refused (422) before any query.
MAX_ID = 2**31 - 1
CATALOGUE_LIMIT = 12  # the page's 12 cards
CATALOGUE_MAX_LIMIT = 50
# The page's query parameters, read by the same filter form (courses/filters.py).
CATALOGUE_FILTERS = (
    "q",
    "theme",
    "stage",
    "level",
    "mode",
    "region",
    "parent_school",
    "term",
    "free",
    "date_from",
    "date_to",
)


def object_id(**extra):
    """An id in a path or a body: a whole number from 1 to MAX_ID."""
    return Field(ge=1, le=MAX_ID, **extra)


class ShareOut(Schema):
    """The card a shared link shows, and the mini-program page for the same thing."""

    title: str
    summary: str
    image_url: str
    url: str
    miniprogram_path: str


def share_out(card) -> ShareOut:
    return ShareOut(
        title=card.title,
        summary=card.summary,
        image_url=card.image_url,
        url=card.url,
        miniprogram_path=card.miniprogram_path,
    )


class MyBookingOut(Schema):
    """The caller's family's active booking (confirmed or waiting) on an offering."""

    id: int
    status: str
    party_size: int
    children_count: int
    waiting_position: int | None = None


class DecisionOut(Schema):
    """What the caller's family may do now, by the rules the services enforce."""

    can_book: bool
    refusal: str | None = Field(None, description="为何不能报名的代码（可报名时为空）")
    refusal_message: str = ""
    joins_waiting_list: bool = Field(description="名额已满：报名将进入候补名单")
    booking_opens_at: datetime.datetime | None = None
    booking_closes_at: datetime.datetime | None = None
    my_booking: MyBookingOut | None = None
    can_cancel: bool
    cancel_message: str = ""
    cancel_allowed_until: datetime.datetime | None = None


def decision_out(decision: BookingDecision, *, positions: dict[int, int]) -> DecisionOut:
    booking = decision.booking
    mine = None
    if booking is not None:
        mine = MyBookingOut(
            id=booking.pk,
            status=booking.status,
            party_size=booking.party_size,
            children_count=booking.children_count,
            waiting_position=positions.get(booking.pk),
        )
    return DecisionOut(
        can_book=decision.can_book,
        refusal=decision.reason,
        refusal_message=decision.message,
        joins_waiting_list=decision.joins_waiting_list,
        booking_opens_at=decision.opens_at,
        booking_closes_at=decision.closes_at,
        my_booking=mine,
        can_cancel=decision.can_cancel,
        cancel_message=decision.cancel_message,
        cancel_allowed_until=decision.cancel_allowed_until,
    )


def waiting_positions(bookings) -> dict[int, int]:
    """{booking id: place in the queue} of the waiting ones, in one query (none if
    no booking waits)."""
    waiting = [b.pk for b in bookings if b is not None and b.status == Booking.Status.WAITING]
    if not waiting:
        return {}
    rows = booking_annotate_waiting_position(Booking.objects.filter(pk__in=waiting)).values_list(
        "pk", "waiting_position"
    )
    return dict(rows)


# The catalogue ------------------------------------------------------------------------


class FacetValueOut(Schema):
    value: str
    label: str
    count: int
    selected: bool
    children: list[FacetValueOut] = Field(default_factory=list, description="街道/社区的下级")


FacetValueOut.model_rebuild()


def facet_out(value: FacetValue) -> dict:
    """A facet value as FacetValueOut's JSON (a plain dict: a district's catalogue
    has hundreds of values, and a validated model each cost more than the query)."""
    return {
        "value": value.value,
        "label": value.label,
        "count": value.count,
        "selected": value.selected,
        "children": [facet_out(child) for child in value.children],
    }


class CatalogueRefOut(Schema):
    id: int
    name: str


class CourseFactsOut(Schema):
    """What a course card and a course's page both say about the course."""

    id: int
    title: str
    summary: str
    audience: str
    level: str
    level_label: str
    mode: str
    mode_label: str
    credits: Decimal
    parent_school: CatalogueRefOut
    region: str | None = None
    term: CatalogueRefOut
    themes: list[str]


def course_facts(course) -> dict:
    """CourseFactsOut's JSON but the themes (the catalogue reads them as an
    annotation, a course's page from its prefetched rows)."""
    school = course.parent_school
    return {
        "id": course.pk,
        "title": course.title,
        "summary": course.summary,
        "audience": course.audience,
        "level": course.level,
        "level_label": course.get_level_display(),
        "mode": course.mode,
        "mode_label": course.get_mode_display(),
        "credits": course.credits,
        "parent_school": {"id": school.pk, "name": school.name},
        "region": school.region.name if school.region_id else None,
        "term": {"id": course.term_id, "name": str(course.term)},
    }


class CourseCardOut(CourseFactsOut):
    next_start: datetime.datetime | None = Field(None, description="下一个可报名场次的开始时间")
    has_free: bool = Field(description="有场次还有空位")
    search_partial: bool = Field(False, description="只含部分搜索词")
    miniprogram_path: str


def _card(course) -> dict:
    """A course card as CourseCardOut's JSON (a plain dict, as facet_out)."""
    return {
        **course_facts(course),
        "themes": list(course.theme_names),
        "next_start": course.next_start,
        "has_free": bool(course.has_free),
        "search_partial": bool(getattr(course, "search_partial", False)),
        "miniprogram_path": f"pages/course/detail?id={course.pk}",
    }


class CatalogueSearchOut(Schema):
    words: list[str] = Field(description="实际搜索的词")
    ignored: bool = Field(description="输入的内容里没有可搜索的词（如只有标点）")


class CatalogueOut(Schema):
    items: list[CourseCardOut]
    total: int = Field(description="符合条件的课程总数")
    facets: dict[str, list[FacetValueOut]] = Field(
        description="每个筛选项的取值与课程数（不计该项自身的选择），与课程页相同"
    )
    free_count: int = Field(description="有空位的课程数")
    search: CatalogueSearchOut
    next_cursor: str | None = None
    limit: int


class CatalogueQuery(Schema):
    """The /courses/ page's parameters, with the same meanings."""

    q: str | None = Field(None, description="关键词")
    theme: str | None = Field(None, description="主题 id")
    stage: str | None = Field(None, description="学段代码")
    level: str | None = None
    mode: str | None = None
    region: str | None = Field(None, description="地区 id（含下级）")
    parent_school: str | None = Field(None, description="家长学校 id")
    term: str | None = Field(None, description="学期 id")
    free: str | None = Field(None, description="true：只看有空位")
    date_from: str | None = Field(None, description="开课日期从（YYYY-MM-DD）")
    date_to: str | None = Field(None, description="开课日期至（YYYY-MM-DD）")
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(CATALOGUE_LIMIT, ge=1, le=CATALOGUE_MAX_LIMIT)


def _cursor_scope(data: dict) -> str:
    # A cursor belongs to one query: the same filters and search, or it is refused.
    text = "&".join(f"{name}={data[name]}" for name in sorted(data))
    return "catalogue:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _key_from_cursor(cursor: str | None, scope: str) -> CatalogueKey | None:
    if not cursor:
        return None
    rank, next_session_at, pk = cursor_read(cursor, scope=scope, size=3)
    valid = (
        (rank is None or isinstance(rank, int))
        and (next_session_at is None or isinstance(next_session_at, datetime.datetime))
        and isinstance(pk, int)
    )
    if not valid:
        raise ApiError("bad_cursor", status=400, field="cursor")
    return CatalogueKey(rank=rank, next_session_at=next_session_at, id=pk)


@router.get(
    "/courses",
    response={200: CatalogueOut, 400: ErrorOut, 422: ErrorOut},
    summary="课程目录（与课程页相同的筛选、搜索与排序）",
)
def catalogue(request, filters: Query[CatalogueQuery]):
    data = {
        name: value
        for name in CATALOGUE_FILTERS
        if (value := getattr(filters, name)) not in (None, "")
    }
    # The answer is the same for every caller (nothing in it is the family's), so,
    # like the page's content, it is shared for COURSE_CATALOGUE_CACHE_SECONDS; the
    # course and session answers are always live.
    seconds = settings.COURSE_CATALOGUE_CACHE_SECONDS
    key = _answer_cache_key(data, filters.cursor, filters.limit)
    content = cache.get(key) if seconds > 0 else None
    if content is None:
        content = json.dumps(_catalogue_answer(data, filters), cls=NinjaJSONEncoder)
        if seconds > 0:
            cache.set(key, content, seconds)
    return HttpResponse(content, content_type="application/json; charset=utf-8")


def _answer_cache_key(data: dict, cursor: str | None, limit: int) -> str:
    text = "&".join(f"{name}={data[name]}" for name in sorted(data))
    digest = hashlib.sha256(f"{text}|{cursor or ''}|{limit}".encode()).hexdigest()[:32]
    return f"api:catalogue:v1:{get_language()}:{digest}"


def _catalogue_answer(data: dict, filters: CatalogueQuery) -> dict:
    """CatalogueOut's JSON, built as plain dicts and encoded once (the response
    schema documents it; tests check the two agree)."""
    scope = _cursor_scope(data)
    after = _key_from_cursor(filters.cursor, scope)
    found = selectors.course_catalogue_slice(data=data, after=after, per_page=filters.limit)
    result = found.catalogue
    if result.invalid:
        # The page drops a value it cannot read; a program is told which one.
        fields = {name: " ".join(errors) for name, errors in result.filterset.form.errors.items()}
        raise ApiError("invalid", status=422, fields=fields)
    next_cursor = None
    if found.next_key is not None:
        next_cursor = cursor_make(list(found.next_key), scope=scope)
    return {
        "items": [_card(course) for course in found.courses],
        "total": found.total,
        "facets": {name: [facet_out(v) for v in values] for name, values in result.facets.items()},
        "free_count": result.free_count,
        "search": {
            "words": [word.text for word in result.search_words],
            "ignored": result.search_ignored,
        },
        "next_cursor": next_cursor,
        "limit": filters.limit,
    }


# A course and a session ---------------------------------------------------------------


class CatalogueSessionOut(Schema):
    id: int
    offering_id: int
    course_id: int
    course_title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: str
    online: bool = Field(description="线上参加（链接在报名成功后的“我的学习”中）")
    status: str
    capacity: int
    places_taken: int
    free_places: int = Field(description="此刻的空位（人）")
    waiting_families: int
    decision: DecisionOut


def session_out(row, *, course, positions: dict[int, int]) -> CatalogueSessionOut:
    session, offering = row.session, row.session.offering
    return CatalogueSessionOut(
        id=session.pk,
        offering_id=offering.pk,
        course_id=course.pk,
        course_title=course.title,
        starts_at=offering.starts_at,
        ends_at=offering.ends_at,
        venue=session.venue,
        online=bool(session.online_url),
        status=offering.status,
        capacity=offering.capacity,
        places_taken=offering.places_taken,
        free_places=offering.free_places,
        waiting_families=offering.waiting_families,
        decision=decision_out(row.decision, positions=positions),
    )


class CatalogueInstructorOut(Schema):
    id: int
    name: str
    tier: str


class CatalogueCourseOut(CourseFactsOut):
    body: str
    stages: list[str]
    instructors: list[CatalogueInstructorOut]
    sessions: list[CatalogueSessionOut] = Field(description="未结束的场次，最早的在前")
    share: ShareOut


def _rows_out(rows, *, course) -> list[CatalogueSessionOut]:
    positions = waiting_positions([row.decision.booking for row in rows])
    return [session_out(row, course=course, positions=positions) for row in rows]


@router.get(
    "/courses/{course_id}",
    response={200: CatalogueCourseOut, 404: ErrorOut, 422: ErrorOut},
    summary="课程详情与场次（实时空位）",
)
def course_detail(request, course_id: int = Path(..., ge=1, le=MAX_ID)):
    course = selectors.course_detail(pk=course_id)
    if course is None:
        raise Http404
    sessions = selectors.course_sessions(course=course, upcoming_only=True)
    rows = selectors.course_session_rows(sessions=sessions, family=family_of(request.user))
    return CatalogueCourseOut(
        **course_facts(course),
        body=course.body,
        themes=[theme.name for theme in course.themes.all()],
        stages=[stage.code for stage in course.stages.all()],
        instructors=[
            CatalogueInstructorOut(id=i.pk, name=i.name, tier=i.tier)
            for i in course.instructors.all()
        ],
        sessions=_rows_out(rows, course=course),
        share=share_out(selectors.course_share(course)),
    )


@router.get(
    "/sessions/{session_id}",
    response={200: CatalogueSessionOut, 404: ErrorOut, 422: ErrorOut},
    summary="场次详情（实时空位）",
)
def session_detail(request, session_id: int = Path(..., ge=1, le=MAX_ID)):
    session = selectors.course_session_public(pk=session_id)
    if session is None:
        raise Http404
    rows = selectors.course_session_rows(sessions=[session], family=family_of(request.user))
    return _rows_out(rows, course=session.course)[0]
