"""API: the staff side — their sessions and events, rosters, attendance, and
check-in by a family's ticket, for people and for check-in kiosks (docs/API.md).

The same reads and writes as the staff pages, nothing decided twice:

- lists: ``courses.selectors.session_list_for_staff`` and
  ``events.selectors.event_list_for_coordinator`` (members/access.py decides
  the units), upcoming first as on the sessions page, by keyset cursor;
- an offering (the place-holding row both a course session and an event own,
  so one id works for either) is found as the roster pages find it, and one the
  caller may not see is a 404, like a guessed id on the pages;
- the roster shows what the roster page shows: masked phones, and the full
  numbers only after the audit-logged 「显示号码」 (members/roster_contacts.py);
- attendance goes through ``courses.services.session_attendance_mark`` (or
  ``_many``) and ``events.services.event_check_in``, with their marking window;
- a ticket scan goes through ``events.services.ticket_check_in``, the one ticket
  check-in for course sessions and events.

A *device* token (a check-in kiosk or tablet, ``ApiToken.Kind.DEVICE``) acts for
the coordinator who made it, only with the ``checkin`` scope and only for its
own unit: it may list that unit's sessions and events and scan tickets; rosters,
contacts and attendance marking are refused (``api.auth.require_scope``), and a
ticket of another unit's offering is refused (``require_device_unit``).
"""

# No ``from __future__ import annotations``: django-ninja reads the payload types
# of the ``@idempotent`` endpoints through the wrapper, from real annotations.
import datetime
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from django.core.exceptions import PermissionDenied
from django.db.models import F, prefetch_related_objects
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from bookings.errors import BookingError
from bookings.models import Booking, Offering
from bookings.party import attendee_label
from bookings.selectors import AttendanceMarking, attendance_marking
from courses import selectors as course_selectors
from courses import services as course_services
from courses.models import CourseSession
from events import selectors as event_selectors
from events import services as event_services
from events.errors import EventError
from events.models import Event
from members import access, roster_contacts
from members.privacy import person_name
from members.services import guardian_phones_reveal

from .auth import device_unit_id, require_device_unit, require_scope, signed_in
from .catalogue import MAX_ID, object_id
from .errors import MESSAGES, ApiError
from .idempotency import idempotent
from .pagination import keyset_page
from .ratelimit import client_ip
from .schemas import ErrorOut

router = Router(tags=["staff"], auth=signed_in)

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
BULK_MAX = 200  # a roster's families, well above the largest session
# Rule refusals that are about one field of the request: the answer names it.
TICKET_REFUSALS = {"ticket_bad_code", "ticket_cancelled", "ticket_waiting"}
BOOKING_REFUSALS = {"booking_missing", "not_confirmed"}


# --- shapes ---------------------------------------------------------------------------

BookingId = Annotated[int, Field(ge=1, le=MAX_ID)]
OfferingId = Path(..., ge=1, le=MAX_ID, description="场次或活动的 offering_id（见列表）")


class UnitOut(Schema):
    id: int
    name: str


class SessionOut(Schema):
    """A course session the caller runs; ``offering_id`` names it in the other endpoints."""

    offering_id: int
    session_id: int
    course_id: int
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: str
    online_url: str
    unit: UnitOut
    status: str
    capacity: int
    places_taken: int
    waiting_families: int


class EventOut(Schema):
    """An event the caller runs; ``offering_id`` names it in the other endpoints."""

    offering_id: int
    event_id: int
    title: str
    kind: str
    kind_label: str
    status: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: str
    online_url: str
    unit: UnitOut
    capacity: int
    places_taken: int
    waiting_families: int


class SessionPage(Schema):
    items: list[SessionOut]
    next_cursor: str | None = None
    limit: int


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None = None
    limit: int


class ListQuery(Schema):
    cursor: str | None = None
    limit: int = Field(20, ge=1, le=100)
    past: bool = Field(False, description="true: the ones already started, latest first")


class MarkingOut(Schema):
    """Whether attendance may be marked now (and a ticket scanned), and if not why."""

    is_open: bool
    opens_at: datetime.datetime
    closes_at: datetime.datetime
    message: str


class ContactOut(Schema):
    """A guardian's number as the roster shows it: masked; ``phone`` only once revealed."""

    guardian_id: int
    relation: str
    masked: str
    phone: str = ""


class RosterRowOut(Schema):
    booking_id: int
    people: list[str]
    party_size: int
    children_count: int
    attendance: str
    attendance_label: str
    checked_in_at: datetime.datetime | None
    contacts: list[ContactOut]
    contacts_hidden: bool


class WaitingRowOut(Schema):
    booking_id: int
    position: int
    booked_by: str
    party_size: int


class OfferingOut(Schema):
    offering_id: int
    kind: str  # "course_session" or "event"
    session_id: int | None = None
    event_id: int | None = None
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: str
    unit: UnitOut
    places_taken: int


class RosterOut(Schema):
    offering: OfferingOut
    marking: MarkingOut
    present_families: int
    confirmed: list[RosterRowOut]
    waiting: list[WaitingRowOut]


class AttendanceIn(Schema):
    booking_id: int = object_id()
    present: bool = True


class AttendanceOut(Schema):
    booking_id: int
    attendance: str
    attendance_label: str
    checked_in_at: datetime.datetime | None


class AttendanceBulkIn(Schema):
    booking_ids: list[BookingId] = Field(..., min_length=1, max_length=BULK_MAX)
    present: bool = True


class AttendanceBulkOut(Schema):
    marked: int
    errors: list[str]


class RevealIn(Schema):
    booking_id: int = object_id()


class RevealOut(Schema):
    booking_id: int
    contacts: list[ContactOut]


class CheckinIn(Schema):
    code: str = Field(
        ..., min_length=1, max_length=300, description="票号（可含空格），或扫到的整个票链接"
    )


class CheckinOut(Schema):
    """The family checked in; ``already_checked_in`` when it had been before."""

    booking_id: int
    offering_id: int
    kind: str
    title: str
    people: list[str]
    party_size: int
    children_count: int
    checked_in_at: datetime.datetime | None
    already_checked_in: bool
    message: str


# --- what the caller runs -------------------------------------------------------------


@dataclass(frozen=True)
class Managed:
    """An offering the caller may see as staff: a course session's or an event's."""

    offering: Offering
    session: CourseSession | None = None
    event: Event | None = None

    @property
    def about(self):
        # What a phone reveal is logged against, as on the roster pages.
        return self.session if self.session is not None else self.event


def _require_staff(request) -> None:
    if not access.is_staff_member(request.user):
        raise PermissionDenied


def _list_scope(request) -> None:
    # A kiosk lists its unit's sessions to check in at; a person needs ``read``.
    require_scope(request, "checkin" if device_unit_id(request) is not None else "read")
    _require_staff(request)


def _managed(request, offering_id: int) -> Managed:
    """The offering as the roster pages find it; one the caller may not see is 404."""
    _require_staff(request)
    session = course_selectors.session_for_staff_by_offering(offering_id=offering_id)
    if session is not None:
        if not access.can_view_unit(request.user, session.offering.unit_id):
            raise Http404
        return Managed(offering=session.offering, session=session)
    event = (
        event_selectors.event_list_for_coordinator(user=request.user)
        .filter(offering_id=offering_id)
        .first()
    )
    if event is None:
        raise Http404
    return Managed(offering=event.offering, event=event)


@contextmanager
def _refusal_names(field: str, codes: set[str]):
    """A service's refusal with one of ``codes`` concerns ``field``: say so in ``fields``."""
    try:
        yield
    except (BookingError, EventError) as error:
        if error.code in codes and not getattr(error, "fields", None):
            error.fields = {field: str(error.message)}
        raise


def _unit_out(unit) -> UnitOut:
    return UnitOut(id=unit.pk, name=unit.name)


def _staff_page(request, rows, query: ListQuery, *, name: str):
    """One page of a staff list of sessions or events: (rows, next_cursor).

    A kiosk sees only its own unit's rows. Upcoming soonest first; the past latest
    first (the sessions page's two lists). The cursor belongs to the list, the
    split and the kiosk's unit, so one list's cursor is refused by another."""
    unit_id = device_unit_id(request)
    if unit_id is not None:
        rows = rows.filter(offering__unit_id=unit_id)
    return keyset_page(
        rows.annotate(starts_at=F("offering__starts_at")),
        order=("-starts_at", "-pk") if query.past else ("starts_at", "pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"staff.{name}:{int(query.past)}:{unit_id or ''}",
    )


def _offering_fields(offering) -> dict:
    """What SessionOut and EventOut both say of the offering: its times, unit and places."""
    return {
        "starts_at": offering.starts_at,
        "ends_at": offering.ends_at,
        "unit": _unit_out(offering.unit),
        "capacity": offering.capacity,
        "places_taken": offering.places_taken,
        "waiting_families": offering.waiting_families,
    }


# --- lists ----------------------------------------------------------------------------


@router.get("/sessions", response={200: SessionPage, **ERRORS}, summary="我负责的课程场次")
def staff_sessions(request, query: Query[ListQuery]):
    """The course sessions of the units the caller runs (a kiosk: its own unit),
    the ones not yet over soonest first, or with ``past=true`` the started ones."""
    _list_scope(request)
    sessions = course_selectors.session_list_for_staff(user=request.user, include_past=query.past)
    rows, next_cursor = _staff_page(request, sessions, query, name="sessions")
    items = [
        SessionOut(
            **_offering_fields(s.offering),
            offering_id=s.offering_id,
            session_id=s.pk,
            course_id=s.course_id,
            title=s.course.title,
            venue=s.venue,
            online_url=s.online_url,
            status=s.offering.status,
        )
        for s in rows
    ]
    return SessionPage(items=items, next_cursor=next_cursor, limit=query.limit)


@router.get("/events", response={200: EventPage, **ERRORS}, summary="我负责的活动")
def staff_events(request, query: Query[ListQuery]):
    """The events of the units the caller runs (a kiosk: its own unit), split into
    upcoming and past as the sessions are."""
    _list_scope(request)
    events = event_selectors.event_list_for_coordinator(user=request.user).select_related(
        "offering__unit"
    )
    now = timezone.now()
    # The same split as courses.selectors.session_list_for_staff: over or not yet.
    if query.past:
        events = events.filter(offering__starts_at__lt=now)
    else:
        events = events.filter(offering__ends_at__gte=now)
    rows, next_cursor = _staff_page(request, events, query, name="events")
    items = [
        EventOut(
            **_offering_fields(e.offering),
            offering_id=e.offering_id,
            event_id=e.pk,
            title=e.title,
            kind=e.kind,
            kind_label=e.get_kind_display(),
            status=e.status,
            venue=e.venue,
            online_url=e.online_url,
        )
        for e in rows
    ]
    return EventPage(items=items, next_cursor=next_cursor, limit=query.limit)


# --- the roster -----------------------------------------------------------------------


def _marking_out(marking: AttendanceMarking) -> MarkingOut:
    return MarkingOut(
        is_open=marking.is_open,
        opens_at=marking.opens_at,
        closes_at=marking.closes_at,
        message=marking.message,
    )


def _contact_out(contact) -> ContactOut:
    return ContactOut(
        guardian_id=contact.guardian_id,
        relation=str(contact.relation),
        masked=contact.masked,
        phone=contact.phone,
    )


def _people(booking: Booking) -> list[str]:
    return [str(attendee_label(a)) for a in booking.attendees.all()]


def _roster_row(booking: Booking) -> RosterRowOut:
    return RosterRowOut(
        booking_id=booking.pk,
        people=_people(booking),
        party_size=booking.party_size,
        children_count=booking.children_count,
        attendance=booking.attendance,
        attendance_label=booking.get_attendance_display(),
        checked_in_at=booking.checked_in_at,
        contacts=[_contact_out(c) for c in booking.contacts],
        contacts_hidden=booking.contacts_hidden,
    )


def _offering_out(managed: Managed) -> OfferingOut:
    offering = managed.offering
    if managed.session is not None:
        session = managed.session
        title, venue = session.course.title, session.venue
    else:
        title, venue = managed.event.title, managed.event.venue
    return OfferingOut(
        offering_id=offering.pk,
        kind=offering.kind,
        session_id=managed.session.pk if managed.session is not None else None,
        event_id=managed.event.pk if managed.event is not None else None,
        title=title,
        starts_at=offering.starts_at,
        ends_at=offering.ends_at,
        venue=venue,
        unit=_unit_out(offering.unit),
        places_taken=offering.places_taken,
    )


def _confirmed_and_waiting(managed: Managed) -> tuple[list[Booking], list[Booking]]:
    """The confirmed families and the waiting list, read as the roster page reads them."""
    if managed.session is not None:
        session = managed.session
        return (
            course_selectors.session_roster(session=session),
            course_selectors.session_waiting(session=session),
        )
    roster = list(event_selectors.event_roster(event=managed.event))
    return (
        [b for b in roster if b.status == Booking.Status.CONFIRMED],
        [b for b in roster if b.status == Booking.Status.WAITING],
    )


def _revealed_ids(request, managed: Managed) -> set[int]:
    # The numbers this person revealed lately on the page (session sign-in); a
    # token has no page session, so it sees what its own reveal answers returned.
    if getattr(request, "api_token", None) is not None:
        return set()
    return roster_contacts.revealed_guardian_ids(request, about=managed.about)


@router.get(
    "/offerings/{offering_id}/roster",
    response={200: RosterOut, **ERRORS},
    summary="签到名单（课程场次或活动）",
)
def staff_roster(request, offering_id: int = OfferingId):
    """The confirmed families with who comes, their attendance and the guardians'
    masked numbers, and the waiting list in order. Not for check-in kiosks."""
    require_scope(request, "read")
    managed = _managed(request, offering_id)
    confirmed, waiting = _confirmed_and_waiting(managed)
    roster_contacts.attach_contacts(confirmed, revealed_ids=_revealed_ids(request, managed))
    return RosterOut(
        offering=_offering_out(managed),
        marking=_marking_out(attendance_marking(offering=managed.offering)),
        present_families=sum(1 for b in confirmed if b.attendance == Booking.Attendance.PRESENT),
        confirmed=[_roster_row(b) for b in confirmed],
        waiting=[
            WaitingRowOut(
                booking_id=b.pk,
                position=position,
                booked_by=person_name(b.booked_by) if b.booked_by is not None else "—",
                party_size=b.party_size,
            )
            for position, b in enumerate(waiting, start=1)
        ],
    )


@router.post(
    "/offerings/{offering_id}/roster/reveal",
    response={200: RevealOut, **ERRORS},
    summary="显示一个家庭的完整手机号（记入审计日志）",
)
def staff_phone_reveal(request, payload: RevealIn, offering_id: int = OfferingId):
    """The roster's 「显示号码」: the full numbers of one confirmed family, for the
    staff of this session or event only, one audit entry per number, within the
    hourly cap (``phone_reveal_limit``). Not for check-in kiosks."""
    require_scope(request, "read")
    managed = _managed(request, offering_id)
    confirmed, _waiting = _confirmed_and_waiting(managed)
    booking = roster_contacts.booking_in(confirmed, payload.booking_id)  # else 404
    prefetch_related_objects([booking], "family__guardians")
    shown = guardian_phones_reveal(
        actor=request.user,
        guardians=roster_contacts.family_guardians(booking),
        about=managed.about,
        ip_address=client_ip(request),
    )
    if getattr(request, "api_token", None) is None:
        # Signed in on the site: the roster page keeps showing them, as after its own tap.
        roster_contacts.remember_revealed(
            request, about=managed.about, guardian_ids=[g.pk for g in shown]
        )
    contacts = [roster_contacts.contact_for(g, revealed=True) for g in shown]
    return RevealOut(booking_id=booking.pk, contacts=[_contact_out(c) for c in contacts])


# --- attendance -----------------------------------------------------------------------


def _attendance_out(booking: Booking) -> AttendanceOut:
    return AttendanceOut(
        booking_id=booking.pk,
        attendance=booking.attendance,
        attendance_label=booking.get_attendance_display(),
        checked_in_at=booking.checked_in_at,
    )


@router.post(
    "/offerings/{offering_id}/attendance",
    response={200: AttendanceOut, **ERRORS},
    summary="标记一个家庭出席或缺席",
)
@idempotent
def staff_attendance_mark(request, payload: AttendanceIn, offering_id: int = OfferingId):
    """As on the roster: within the marking window (from check-in opening until some
    days after the end); a course session's credits are posted or reversed."""
    require_scope(request, "write")
    managed = _managed(request, offering_id)
    if managed.session is not None:
        with _refusal_names("booking_id", BOOKING_REFUSALS):
            booking = course_services.session_attendance_mark(
                session=managed.session,
                booking_id=payload.booking_id,
                present=payload.present,
                marked_by=request.user,
            )
    else:
        try:
            with _refusal_names("booking_id", BOOKING_REFUSALS):
                booking = event_services.event_check_in(
                    event=managed.event,
                    booking_id=payload.booking_id,
                    marked_by=request.user,
                    present=payload.present,
                )
        except EventError as error:
            if error.code != "not_registered":
                raise
            # Another offering's (or a made-up) booking id: 404, as for a session.
            raise ApiError(
                "booking_not_on_roster",
                status=404,
                fields={"booking_id": str(MESSAGES["booking_not_on_roster"])},
            ) from error
    return 200, _attendance_out(booking)


@router.post(
    "/offerings/{offering_id}/attendance/bulk",
    response={200: AttendanceBulkOut, **ERRORS},
    summary="批量标记出席或缺席（课程场次）",
)
@idempotent
def staff_attendance_mark_many(request, payload: AttendanceBulkIn, offering_id: int = OfferingId):
    """The roster page's 「所选标记出席／缺席」: each family on its own, the
    messages of the ones refused collected once each. Course sessions only, as
    the event page marks one family at a time."""
    require_scope(request, "write")
    managed = _managed(request, offering_id)
    if managed.session is None:
        raise ApiError(
            "bulk_sessions_only",
            status=400,
            fields={"booking_ids": str(MESSAGES["bulk_sessions_only"])},
        )
    marking = attendance_marking(offering=managed.offering)
    if marking.refusal is not None:
        raise marking.refusal
    done, errors = course_services.session_attendance_mark_many(
        session=managed.session,
        booking_ids=payload.booking_ids,
        present=payload.present,
        marked_by=request.user,
    )
    return 200, AttendanceBulkOut(marked=done, errors=errors)


# --- ticket check-in ------------------------------------------------------------------


@router.post("/checkin", response={200: CheckinOut, **ERRORS}, summary="扫票签到（人员或签到设备）")
@idempotent
def staff_checkin(request, payload: CheckinIn):
    """A family's ticket (the code on 我的学习 or the event page, typed or scanned,
    the QR's whole link accepted) checks the family in at its course session or
    event, within the check-in window. A kiosk token: its own unit's only. A
    second scan answers ``already_checked_in`` and changes nothing; a retry with
    the same ``Idempotency-Key`` gets the first answer again."""
    require_scope(request, "checkin")
    _require_staff(request)
    with _refusal_names("code", TICKET_REFUSALS):
        booking = event_services.ticket_booking(code=payload.code)
    offering = booking.offering
    require_device_unit(request, offering.unit_id)
    if not access.can_view_unit(request.user, offering.unit_id):
        raise ApiError("checkin_not_yours", status=403)
    booking, newly = event_services.ticket_check_in(code=payload.code, marked_by=request.user)
    prefetch_related_objects([booking], "attendees__guardian__user", "attendees__child")
    people = _people(booking)
    names = "、".join(people) or _("家庭 #%(id)s") % {"id": booking.family_id}
    if newly:
        message = _("已签到：%(names)s（%(n)s 人）。") % {"names": names, "n": booking.party_size}
    else:
        message = _("%(names)s 已经签到过了。") % {"names": names}
    return 200, CheckinOut(
        booking_id=booking.pk,
        offering_id=offering.pk,
        kind=offering.kind,
        title=offering.title,
        people=people,
        party_size=booking.party_size,
        children_count=booking.children_count,
        checked_in_at=booking.checked_in_at,
        already_checked_in=not newly,
        message=message,
    )
