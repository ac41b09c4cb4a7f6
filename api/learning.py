"""API: booking and 我的学习 for a signed-in family (docs/API.md).

Booking is the course page's booking: ``bookings.services.booking_create`` for
the chosen members of the caller's own family, confirmed when the party fits
and otherwise on the waiting list (joining the waiting list is the same call).
Cancelling is ``booking_cancel``, which promotes the waiting list. Both take an
``Idempotency-Key``. 我的学习 is ``portal.selectors.my_learning``, what /me/ shows.
"""

import datetime
from decimal import Decimal
from typing import Annotated

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from ninja import Path, Query, Router, Schema
from pydantic import Field

from bookings import services as booking_services
from bookings.party import attendee_label, guardian_label
from bookings.selectors import booking_for_family
from courses import selectors as course_selectors
from courses.errors import CourseError
from courses.services import family_of
from portal import selectors as portal_selectors

from .auth import require_scope, signed_in
from .catalogue import MAX_ID, object_id
from .idempotency import idempotent
from .schemas import ErrorOut

router = Router(tags=["learning"])

MAX_PARTY = 20  # as the pages: more ids than a family has people is refused anyway


PartyId = Annotated[int, Field(ge=1, le=MAX_ID)]


class PartyIn(Schema):
    """Who goes: ids of the caller's own family's guardians and children (another
    family's id is refused, ``not_family_member``)."""

    guardian_ids: list[PartyId] = Field(default_factory=list, max_length=MAX_PARTY)
    child_ids: list[PartyId] = Field(default_factory=list, max_length=MAX_PARTY)


class BookingIn(PartyIn):
    offering_id: int = object_id(description="场次的 offering_id（见课程与场次详情）")


class BookingOut(Schema):
    """A booking of the caller's family, as 我的学习 shows it."""

    id: int
    status: str = Field(description="confirmed 已确认 · waiting 候补中 · cancelled 已取消")
    status_label: str
    offering_id: int
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    party_size: int
    children_count: int
    people: list[str]
    waiting_position: int | None = Field(None, description="候补中时排第几（1 为下一位）")
    created_at: datetime.datetime
    confirmed_at: datetime.datetime | None = None
    promoted_at: datetime.datetime | None = None
    cancelled_at: datetime.datetime | None = None


def booking_out(request, family, booking_id: int) -> BookingOut:
    """The booking as it stands now, read back through the family's own lookup."""
    booking = booking_for_family(family=family, booking_id=booking_id)
    me = getattr(getattr(request.user, "guardian", None), "pk", None)
    offering = booking.offering
    return BookingOut(
        id=booking.pk,
        status=booking.status,
        status_label=booking.get_status_display(),
        offering_id=offering.pk,
        title=offering.title,
        starts_at=offering.starts_at,
        ends_at=offering.ends_at,
        party_size=booking.party_size,
        children_count=booking.children_count,
        people=[attendee_label(a, me_guardian_id=me) for a in booking.attendees.all()],
        waiting_position=booking.waiting_position,
        created_at=booking.created_at,
        confirmed_at=booking.confirmed_at,
        promoted_at=booking.promoted_at,
        cancelled_at=booking.cancelled_at,
    )


def own_family(request):
    family = family_of(request.user)
    if family is None:
        raise CourseError("no_family")
    return family


WRITE_ANSWERS = {
    200: BookingOut,
    201: BookingOut,
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    503: ErrorOut,
}


@router.post(
    "/bookings",
    auth=signed_in,
    response=WRITE_ANSWERS,
    summary="报名课程场次（满员时进入候补名单）",
)
@idempotent
def booking_create(request, payload: BookingIn):
    require_scope(request, "write")
    family = own_family(request)
    # Only a published course's session, as on the course page (an event's places
    # are booked through /events/{id}/registration, which checks the event).
    session = course_selectors.course_session_public(offering_id=payload.offering_id)
    if session is None:
        raise Http404
    booking = booking_services.booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=request.user,
        guardian_ids=payload.guardian_ids,
        child_ids=payload.child_ids,
    )
    return 201, booking_out(request, family, booking.pk)


@router.post(
    "/bookings/{booking_id}/cancel",
    auth=signed_in,
    response=WRITE_ANSWERS,
    summary="取消报名或退出候补（空出的名额自动递补）",
)
@idempotent
def booking_cancel(request, booking_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "write")
    family = own_family(request)
    # Another family's booking is 404, like a missing one (the service checks too).
    booking_services.booking_cancel(booking_id=booking_id, family=family, cancelled_by=request.user)
    return 200, booking_out(request, family, booking_id)


@router.get(
    "/bookings/{booking_id}",
    auth=signed_in,
    response={200: BookingOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="一条报名",
)
def booking_detail(request, booking_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "read")
    family = family_of(request.user)
    if booking_for_family(family=family, booking_id=booking_id) is None:
        raise Http404
    return booking_out(request, family, booking_id)


# 我的学习 -----------------------------------------------------------------------------


class AgendaItemOut(Schema):
    booking_id: int
    status: str
    kind: str = Field(description="course 课程场次 · event 活动")
    kind_label: str
    title: str
    course_id: int | None = None
    session_id: int | None = None
    event_id: int | None = None
    url: str
    miniprogram_path: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: str
    online_url: str
    people: list[str]
    party_size: int
    children_count: int
    waiting_position: int | None = None
    attendance: str
    credits: Decimal | None = Field(None, description="这次获得的学分（已结束的）")
    called_off: bool = Field(description="主办方已取消")
    ticket: str = Field("", description="活动票号（已确认的活动）")
    can_cancel: bool
    cancel_message: str = ""
    cancel_allowed_until: datetime.datetime | None = None


def _related(offering, name: str):
    # Read with the bookings (portal.selectors' one join): no query here.
    try:
        return getattr(offering, name)
    except ObjectDoesNotExist:
        return None


def _agenda_item(item) -> AgendaItemOut:
    booking, offering = item.booking, item.offering
    event = _related(offering, "event") if item.is_event else None
    session = None if item.is_event else _related(offering, "course_session")
    if event is not None:
        path = f"pages/event/detail?id={event.pk}"
    elif session is not None:
        path = f"pages/course/detail?id={session.course_id}"
    else:
        path = ""
    return AgendaItemOut(
        booking_id=booking.pk,
        status=booking.status,
        kind="event" if item.is_event else "course",
        kind_label=item.kind_label,
        title=item.title,
        course_id=session.course_id if session is not None else None,
        session_id=session.pk if session is not None else None,
        event_id=event.pk if event is not None else None,
        url=item.url,
        miniprogram_path=path,
        starts_at=offering.starts_at,
        ends_at=offering.ends_at,
        venue=item.venue,
        online_url=item.online_url,
        people=item.people,
        party_size=booking.party_size,
        children_count=booking.children_count,
        waiting_position=item.waiting_position,
        attendance=booking.attendance,
        credits=item.credits,
        called_off=item.called_off,
        ticket=item.ticket.replace(" ", ""),
        can_cancel=item.decision.can_cancel,
        cancel_message=item.decision.cancel_message,
        cancel_allowed_until=item.decision.cancel_allowed_until,
    )


class BalanceOut(Schema):
    term_id: int
    term: str
    member: str
    total: Decimal


class CreditOut(Schema):
    id: int
    amount: Decimal
    reason: str
    reason_label: str
    course: str | None = None
    term: str
    member: str
    note: str
    created_at: datetime.datetime


def _credit_member(entry) -> str:
    if entry.child_id and entry.child is not None:
        return entry.child.nickname
    if entry.guardian_id and entry.guardian is not None:
        return guardian_label(entry.guardian)
    return "—"


class CreditsOut(Schema):
    balances: list[BalanceOut] = Field(description="每位家庭成员每学期的学分")
    recent: list[CreditOut] = Field(description="最近记入的学分")


class PastPageOut(Schema):
    page: int
    pages: int
    count: int
    has_next: bool


class MyLearningOut(Schema):
    has_family: bool = Field(description="还没有家庭信息时为 false（先完善家庭信息）")
    upcoming: list[AgendaItemOut] = Field(default_factory=list)
    waiting: list[AgendaItemOut] = Field(default_factory=list)
    past: list[AgendaItemOut] = Field(default_factory=list)
    past_page: PastPageOut | None = None
    credits: CreditsOut | None = None


class LearningQuery(Schema):
    page: int = Field(1, ge=1, le=100_000, description="已结束与已取消的第几页（每页 20 条）")


@router.get(
    "/",
    auth=signed_in,
    response={200: MyLearningOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="我的学习：待参加、候补（含排位）、已结束与学分",
)
def my_learning(request, query: Query[LearningQuery]):
    require_scope(request, "read")
    family = family_of(request.user)
    if family is None:
        return MyLearningOut(has_family=False)
    learning = portal_selectors.my_learning(user=request.user, family=family, page=query.page)
    history = learning.history
    return MyLearningOut(
        has_family=True,
        upcoming=[_agenda_item(item) for item in learning.upcoming],
        waiting=[_agenda_item(item) for item in learning.waiting],
        past=[_agenda_item(item) for item in learning.history_items],
        past_page=PastPageOut(
            page=history.number,
            pages=history.paginator.num_pages,
            count=history.paginator.count,
            has_next=history.has_next(),
        ),
        credits=CreditsOut(
            balances=[
                BalanceOut(term_id=b.term.pk, term=str(b.term), member=b.member, total=b.total)
                for b in learning.balances
            ],
            recent=[
                CreditOut(
                    id=entry.pk,
                    amount=entry.amount,
                    reason=entry.reason,
                    reason_label=entry.get_reason_display(),
                    course=entry.course.title if entry.course_id and entry.course else None,
                    term=str(entry.term),
                    member=_credit_member(entry),
                    note=entry.note,
                    created_at=entry.created_at,
                )
                for entry in learning.recent_credits
            ],
        ),
    )
