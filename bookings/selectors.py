"""Reads for limited places."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import rules
from .errors import BookingError
from .models import Booking, BookingAttendee, Offering


@dataclass(frozen=True)
class AttendanceMarking:
    """Whether attendance may be marked (or a family check in) now, and why not.

    ``refusal`` is the error the one marking path (``booking_mark_attendance``)
    raises; pages show its ``message`` instead of buttons that would be refused.
    """

    opens_at: datetime.datetime
    closes_at: datetime.datetime
    refusal: BookingError | None

    @property
    def is_open(self) -> bool:
        return self.refusal is None

    @property
    def message(self) -> str:
        return str(self.refusal.message) if self.refusal is not None else ""


def moment_label(moment: datetime.datetime) -> str:
    """A time as families and staff read it in messages (local time, to the minute)."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def attendance_marking(
    *, offering: Offering, now: datetime.datetime | None = None
) -> AttendanceMarking:
    """Marking opens when check-in opens (``COURSE_CHECKIN_OPENS_MINUTES_BEFORE``
    before the start) and closes ``ATTENDANCE_MARKING_CLOSES_DAYS_AFTER_END`` days
    after the end, for course sessions and events alike."""
    now = now or timezone.now()
    minutes = settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE
    days = settings.ATTENDANCE_MARKING_CLOSES_DAYS_AFTER_END
    opens_at = offering.starts_at - datetime.timedelta(minutes=minutes)
    closes_at = offering.ends_at + datetime.timedelta(days=days)
    refusal = None
    if now < opens_at:
        refusal = BookingError("attendance_not_open", opens=moment_label(opens_at), minutes=minutes)
    elif now > closes_at:
        refusal = BookingError("attendance_closed", closes=moment_label(closes_at), days=days)
    return AttendanceMarking(opens_at=opens_at, closes_at=closes_at, refusal=refusal)


def booking_annotate_waiting_position(queryset: QuerySet[Booking]) -> QuerySet[Booking]:
    """Annotate ``waiting_position`` (1 = next in line) in the same query.

    One correlated count per row, so a page of bookings costs one query however
    many are waiting. Meaningful only for waiting bookings.
    """
    ahead = (
        Booking.objects.filter(offering=OuterRef("offering"), status=Booking.Status.WAITING)
        .filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("offering")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        waiting_position=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0)) + 1
    )


def booking_waiting_position(*, booking: Booking) -> int | None:
    if booking.status != Booking.Status.WAITING:
        return None
    return (
        Booking.objects.filter(offering_id=booking.offering_id, status=Booking.Status.WAITING)
        .filter(
            Q(created_at__lt=booking.created_at)
            | Q(created_at=booking.created_at, pk__lt=booking.pk)
        )
        .count()
        + 1
    )


def booking_for_family(
    *, family, booking_id: int | None = None, offering_id: int | None = None
) -> Booking | None:
    """One of the family's own bookings (by id, any status; or its active one on an
    offering), with its offering, who it is for and, when waiting, its place in the
    queue. Another family's booking is None, like a missing one. Three queries."""
    if family is None or (booking_id is None and offering_id is None):
        return None
    bookings = Booking.objects.filter(family=family)
    if booking_id is not None:
        bookings = bookings.filter(pk=booking_id)
    if offering_id is not None:
        bookings = bookings.filter(offering_id=offering_id, status__in=_ACTIVE_STATUSES)
    booking = (
        bookings.select_related("offering")
        .prefetch_related(
            Prefetch(
                "attendees",
                queryset=BookingAttendee.objects.select_related("guardian__user", "child"),
            )
        )
        .first()
    )
    if booking is not None:
        booking.waiting_position = booking_waiting_position(booking=booking)
    return booking


def booking_active_for_family(*, family, offering_ids) -> dict[int, Booking]:
    """The family's confirmed or waiting bookings on these offerings, by offering id."""
    if family is None:
        return {}
    rows = Booking.objects.filter(
        family=family,
        offering_id__in=list(offering_ids),
        status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
    )
    return {b.offering_id: b for b in rows}


@dataclass(frozen=True)
class BookingDecision:
    """What the viewer's family may do with one offering now, decided by the same
    rules the services enforce (bookings/rules.py). Pages show it; they never
    compare deadlines or windows themselves.

    ``refusal`` says why a new booking would be refused (None: open for booking);
    ``cancel_refusal`` why the family may not cancel its booking itself;
    ``cancel_allowed_until`` is the family's own cancel deadline of a confirmed
    booking (None when there is no booking, or for a waiting one, which may leave
    at any time).
    """

    booking: Booking | None
    refusal: Exception | None
    joins_waiting_list: bool
    opens_at: datetime.datetime | None
    closes_at: datetime.datetime | None
    cancel_refusal: BookingError | None
    cancel_allowed_until: datetime.datetime | None

    @property
    def is_open(self) -> bool:
        return self.refusal is None

    @property
    def can_book(self) -> bool:
        """Open for booking and the family holds no active booking on it yet."""
        return self.is_open and self.booking is None

    @property
    def reason(self) -> str | None:
        return getattr(self.refusal, "code", None)

    @property
    def message(self) -> str:
        return str(self.refusal.message) if self.refusal is not None else ""

    @property
    def can_cancel(self) -> bool:
        return self.booking is not None and self.cancel_refusal is None

    @property
    def cancel_message(self) -> str:
        return str(self.cancel_refusal.message) if self.cancel_refusal is not None else ""


def booking_decision(
    *,
    offering: Offering,
    booking: Booking | None = None,
    now: datetime.datetime | None = None,
) -> BookingDecision:
    """The viewer's decision for ``offering``; ``booking`` is the family's active one."""
    now = now or timezone.now()
    refusal_code = rules.booking_refusal(offering=offering, now=now)
    active = booking if booking is not None and booking.status in _ACTIVE_STATUSES else None
    cancel_code, until = None, None
    if active is not None:
        cancel_code = rules.cancel_refusal(booking=active, offering=offering, now=now)
        if active.status == Booking.Status.CONFIRMED:
            until = rules.cancel_deadline(offering)
    return BookingDecision(
        booking=active,
        refusal=BookingError(refusal_code) if refusal_code else None,
        joins_waiting_list=offering.free_places <= 0,
        opens_at=offering.booking_opens_at,
        closes_at=offering.booking_closes_at,
        cancel_refusal=BookingError(cancel_code) if cancel_code else None,
        cancel_allowed_until=until,
    )


_ACTIVE_STATUSES = (Booking.Status.CONFIRMED, Booking.Status.WAITING)
