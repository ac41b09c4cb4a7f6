"""API: events and registration (docs/API.md).

The public list and an event are the event pages' reads (``events.selectors``);
registering and withdrawing are ``events.services.event_register`` and
``event_registration_cancel``, for the caller's own family, with an
``Idempotency-Key``. A full event puts the family on its waiting list.
"""

import datetime
from typing import Literal

from django.db.models import F
from django.http import Http404
from ninja import Path, Query, Router, Schema
from pydantic import Field

from bookings.models import Booking
from courses.services import family_of
from events import selectors, services
from events.models import Event

from .auth import require_scope, signed_in
from .catalogue import MAX_ID, DecisionOut, ShareOut, decision_out, share_out, waiting_positions
from .idempotency import idempotent
from .learning import WRITE_ANSWERS, BookingOut, PartyIn, booking_out, own_family
from .pagination import keyset_page
from .schemas import ErrorOut

router = Router(tags=["events"])

EVENT_LIMIT = 20  # the event list page's 20
EVENT_MAX_LIMIT = 50


class EventCardOut(Schema):
    id: int
    title: str
    kind: str
    kind_label: str
    audience: str
    audience_label: str
    status: str
    organiser: str
    venue: str
    online: bool = Field(description="线上参加（链接在报名成功后的“我的学习”中）")
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    capacity: int
    free_places: int = Field(description="此刻的空位（人）")
    waiting_families: int
    miniprogram_path: str


def _organiser(event: Event) -> str:
    return str(event.organiser_alliance or event.organiser_unit)


def _card_fields(event: Event) -> dict:
    offering = event.offering
    return {
        "id": event.pk,
        "title": event.title,
        "kind": event.kind,
        "kind_label": event.get_kind_display(),
        "audience": event.audience,
        "audience_label": event.get_audience_display(),
        "status": event.status,
        "organiser": _organiser(event),
        "venue": event.venue,
        "online": bool(event.online_url),
        "starts_at": offering.starts_at,
        "ends_at": offering.ends_at,
        "capacity": offering.capacity,
        "free_places": offering.free_places,
        "waiting_families": offering.waiting_families,
        "miniprogram_path": f"pages/event/detail?id={event.pk}",
    }


class PublicEventListOut(Schema):
    items: list[EventCardOut]
    next_cursor: str | None = None
    limit: int


# The kinds inline in the schema (an enum class would be a component named "Kind").
EventKind = Literal.__getitem__(tuple(Event.Kind.values))


class PublicEventListQuery(Schema):
    kind: EventKind | None = Field(None, description="活动类型")
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(EVENT_LIMIT, ge=1, le=EVENT_MAX_LIMIT)


@router.get(
    "/",
    response={200: PublicEventListOut, 400: ErrorOut, 422: ErrorOut},
    summary="即将举行的活动（已发布，最早的在前）",
)
def event_list(request, query: Query[PublicEventListQuery]):
    kind = query.kind or ""
    events = selectors.event_list_public(kind=kind).annotate(starts_at=F("offering__starts_at"))
    rows, next_cursor = keyset_page(
        events,
        order=("starts_at", "pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"events:{kind}",
    )
    return PublicEventListOut(
        items=[EventCardOut(**_card_fields(event)) for event in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


class PublicEventOut(EventCardOut):
    description: str
    cancel_closes_at: datetime.datetime | None = None
    decision: DecisionOut
    ticket: str = Field("", description="本家庭的票号（已确认时），入场时出示")
    share: ShareOut


def _public_event(event_id: int) -> Event:
    event = selectors.event_public(pk=event_id)  # a draft is 404, like a missing one
    if event is None:
        raise Http404
    return event


def event_out(request, event: Event) -> PublicEventOut:
    family = family_of(request.user)
    booking = selectors.family_booking_for_event(family=family, event=event)
    decision = selectors.event_booking_decision(event=event, booking=booking)
    ticket = ""
    if (
        booking is not None
        and booking.status == Booking.Status.CONFIRMED
        and event.status != Event.Status.CANCELLED
    ):
        ticket = services.event_ticket_code(booking=booking)
    return PublicEventOut(
        **_card_fields(event),
        description=event.description,
        decision=decision_out(decision, positions=waiting_positions([booking])),
        ticket=ticket,
        share=share_out(selectors.event_share(event)),
    )


@router.get(
    "/{event_id}",
    response={200: PublicEventOut, 404: ErrorOut, 422: ErrorOut},
    summary="活动详情（实时空位、本家庭的报名与票号）",
)
def event_detail(request, event_id: int = Path(..., ge=1, le=MAX_ID)):
    return event_out(request, _public_event(event_id))


class RegistrationOut(Schema):
    event_id: int
    booking: BookingOut


@router.post(
    "/{event_id}/registration",
    auth=signed_in,
    response={**WRITE_ANSWERS, 200: RegistrationOut, 201: RegistrationOut},
    summary="报名活动（满员时进入候补名单）",
)
@idempotent
def event_register(request, payload: PartyIn, event_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "write")
    event = _public_event(event_id)
    family = own_family(request)
    booking = services.event_register(
        event_id=event.pk,
        family=family,
        booked_by=request.user,
        guardian_ids=payload.guardian_ids,
        child_ids=payload.child_ids,
    )
    return 201, RegistrationOut(event_id=event.pk, booking=booking_out(request, family, booking.pk))


@router.post(
    "/{event_id}/registration/cancel",
    auth=signed_in,
    response={**WRITE_ANSWERS, 200: RegistrationOut, 201: RegistrationOut},
    summary="取消活动报名或退出候补（空出的名额自动递补）",
)
@idempotent
def event_unregister(request, event_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "write")
    event = _public_event(event_id)
    family = own_family(request)
    booking = services.event_registration_cancel(
        event_id=event.pk, family=family, cancelled_by=request.user
    )
    return 200, RegistrationOut(event_id=event.pk, booking=booking_out(request, family, booking.pk))
