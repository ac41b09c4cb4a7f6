"""One path for every write on limited places: book, cancel, promote, mark attendance.

Seats are protected by locking the Offering row (``SELECT … FOR UPDATE``) inside
``transaction.atomic()``, always in ascending id order, with a short
``lock_timeout`` on PostgreSQL. A lock timeout becomes ``BookingBusy`` ("busy,
try again"), never a 500. Nothing here sends a message: who must be told
(a receipt, a withdrawal receipt, a promotion) is announced by the signals in
``bookings/signals.py``, inside the transaction; the outbox in ``events/``
writes its rows there and sends them after the commit.

Every write of an offering, whoever starts it (course sessions, events, admin),
is one of the ``offering_*`` functions here, and every writer takes its locks
through the one helper in ``bookings/locking.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError
from django.utils import timezone

from members.models import Child, Family, Guardian
from members.services import audit_log_record

from . import rules, signals
from .errors import BookingError
from .locking import offering_transaction, offerings_lock
from .models import Booking, BookingAttendee, Offering
from .selectors import attendance_marking

# Called INSIDE the transaction that cancels or moves an offering, with the
# locked offering and "cancelled" or "moved", so that whatever tells families
# (the reminders in events/) writes its notices atomically with the change.
offering_change_listeners: list[Callable[[Offering, str], None]] = []


def _announce_promotions(offering: Offering, promoted: list[Booking]) -> None:
    """Tell receivers (the outbox in events/) who was promoted. Call it inside the
    promoting transaction, under the offering lock: the notices are written with
    the promotion and roll back with it (bookings/signals.py)."""
    if promoted:
        signals.bookings_promoted.send(sender=Booking, offering=offering, bookings=promoted)


def _validate_party(family: Family, guardian_ids: list[int], child_ids: list[int]):
    guardians = list(Guardian.objects.filter(family=family, pk__in=guardian_ids))
    children = list(Child.objects.filter(family=family, pk__in=child_ids))
    if len(guardians) != len(set(guardian_ids)) or len(children) != len(set(child_ids)):
        raise BookingError("not_family_member")
    if not guardians and not children:
        raise BookingError("empty_party")
    return guardians, children


def _check_open(offering: Offering, now) -> None:
    # The same rule the pages show (bookings.selectors.booking_decision).
    refusal = rules.booking_refusal(offering=offering, now=now)
    if refusal is not None:
        raise BookingError(refusal)


def booking_create(
    *,
    offering_id: int,
    family: Family,
    booked_by,
    guardian_ids: list[int] | None = None,
    child_ids: list[int] | None = None,
) -> Booking:
    """Book places for the chosen family members: confirmed if they fit, else waiting."""
    guardian_ids = list(guardian_ids or [])
    child_ids = list(child_ids or [])
    guardians, children = _validate_party(family, guardian_ids, child_ids)
    party_size = len(guardians) + len(children)

    def write() -> Booking:
        now = timezone.now()
        offering = offerings_lock([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        _check_open(offering, now)
        if Booking.objects.filter(offering=offering, family=family, status__in=_ACTIVE).exists():
            raise BookingError("already_booked")
        if party_size > offering.capacity:
            raise BookingError("party_too_large")
        # A party that fits the free places is confirmed at once. Anyone still
        # waiting then has a party larger than those free places (promotion
        # leaves no smaller party waiting), so this is still first come, first served.
        confirmed = party_size <= offering.capacity - offering.places_taken
        booking = Booking.objects.create(
            offering=offering,
            family=family,
            booked_by=booked_by,
            status=Booking.Status.CONFIRMED if confirmed else Booking.Status.WAITING,
            party_size=party_size,
            children_count=len(children),
            confirmed_at=now if confirmed else None,
        )
        BookingAttendee.objects.bulk_create(
            [BookingAttendee(booking=booking, guardian=g) for g in guardians]
            + [BookingAttendee(booking=booking, child=c, is_child=True) for c in children]
        )
        if confirmed:
            offering.places_taken += party_size
        else:
            offering.waiting_families += 1
        offering.save(update_fields=["places_taken", "waiting_families"])
        audit_log_record(
            actor=booked_by,
            action="bookings.booking.create",
            target=booking,
            data={"offering": offering.pk, "status": booking.status, "party_size": party_size},
        )
        # The family's receipt is written with the booking (bookings/signals.py).
        signals.booking_created.send(sender=Booking, booking=booking)
        return booking

    try:
        with offering_transaction():
            return write()
    except IntegrityError as error:
        # The row lock makes this unreachable on PostgreSQL; on SQLite (no FOR
        # UPDATE) the partial unique constraint is the last line of defence.
        raise BookingError("already_booked") from error


_ACTIVE = (Booking.Status.CONFIRMED, Booking.Status.WAITING)


# Pure rule, shared with the pages (bookings/rules.py); kept importable from here.
cancel_deadline = rules.cancel_deadline


def _promote_waiting(offering: Offering, now) -> list[Booking]:
    """Confirm waiting families in order while their party fits. Caller holds the lock.

    Nobody is promoted onto a cancelled, finished or already started offering.
    """
    free = offering.capacity - offering.places_taken
    promoted: list[Booking] = []
    if free <= 0 or offering.waiting_families == 0:
        return promoted
    if offering.status != Offering.Status.OPEN or offering.starts_at <= now:
        return promoted
    # ``free`` only shrinks while we walk, so a party larger than it now can never
    # fit later in this pass: leave those rows out of the query altogether (a long
    # waiting list of big parties is not read row by row).
    waiting = Booking.objects.filter(
        offering=offering, status=Booking.Status.WAITING, party_size__lte=free
    ).order_by("created_at", "pk")
    for booking in waiting.iterator(chunk_size=200):
        if booking.party_size <= free:
            booking.status = Booking.Status.CONFIRMED
            booking.confirmed_at = now
            booking.promoted_at = now
            booking.save(update_fields=["status", "confirmed_at", "promoted_at"])
            free -= booking.party_size
            promoted.append(booking)
            if free == 0:
                break
    offering.places_taken = offering.capacity - free
    offering.waiting_families -= len(promoted)
    return promoted


def booking_cancel(
    *, booking_id: int, family: Family | None, cancelled_by, force: bool = False
) -> Booking:
    """Cancel a booking and promote the waiting list.

    ``family`` limits the cancel to that family's own booking (parents); a
    coordinator passes ``family=None`` and ``force=True`` to ignore the deadline.
    """

    def write() -> tuple[Booking, list[Booking]]:
        now = timezone.now()
        lookup = Booking.objects.filter(pk=booking_id)
        if family is not None:
            lookup = lookup.filter(family=family)
        offering_id = lookup.values_list("offering_id", flat=True).first()
        if offering_id is None:
            raise BookingError("booking_missing")
        offering = offerings_lock([offering_id])[offering_id]
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        if booking.status == Booking.Status.CANCELLED:
            raise BookingError("already_cancelled")
        was_confirmed = booking.status == Booking.Status.CONFIRMED
        if was_confirmed and not force and now > cancel_deadline(offering):
            raise BookingError("cancel_closed")
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = now
        booking.save(update_fields=["status", "cancelled_at"])
        if was_confirmed:
            offering.places_taken -= booking.party_size
        else:
            offering.waiting_families -= 1
        promoted = _promote_waiting(offering, now)
        offering.save(update_fields=["places_taken", "waiting_families"])
        audit_log_record(
            actor=cancelled_by,
            action="bookings.booking.cancel",
            target=booking,
            data={"offering": offering.pk, "promoted": [b.pk for b in promoted]},
        )
        for promoted_booking in promoted:
            audit_log_record(
                actor=None,
                action="bookings.booking.promote",
                target=promoted_booking,
                data={"offering": offering.pk},
            )
        # Receipts, promotion notices and late reminders are written with the
        # change, so they exist exactly when it committed (bookings/signals.py).
        booking.offering = offering
        signals.booking_cancelled.send(sender=Booking, booking=booking, cancelled_by=cancelled_by)
        _announce_promotions(offering, promoted)
        return booking, promoted

    with offering_transaction():
        booking, _promoted = write()
    return booking


def offering_cancel(*, offering_id: int, cancelled_by) -> Offering:
    """Cancel an offering: no more bookings or promotions; listeners tell families."""

    def write() -> Offering:
        offering = offerings_lock([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        if offering.status == Offering.Status.CANCELLED:
            raise BookingError("already_cancelled_offering")
        offering.status = Offering.Status.CANCELLED
        offering.save(update_fields=["status"])
        signals.participation_changed.send(sender=Offering, offering_ids=[offering.pk])
        for listener in offering_change_listeners:
            listener(offering, "cancelled")
        audit_log_record(actor=cancelled_by, action="bookings.offering.cancel", target=offering)
        return offering

    with offering_transaction():
        return write()


def offering_reschedule(*, offering_id: int, starts_at, ends_at, changed_by) -> Offering:
    """Move an offering that has not started; listeners tell families once."""
    if ends_at <= starts_at:
        raise BookingError("ends_before_start")

    def write() -> Offering:
        offering = offerings_lock([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        if (offering.starts_at, offering.ends_at) == (starts_at, ends_at):
            return offering
        if offering.starts_at <= timezone.now():
            raise BookingError("offering_started_no_move")
        previous = offering.starts_at
        # Before and after: the figures of both months change.
        signals.participation_changed.send(sender=Offering, offering_ids=[offering.pk])
        offering.starts_at, offering.ends_at = starts_at, ends_at
        offering.save(update_fields=["starts_at", "ends_at"])
        signals.participation_changed.send(sender=Offering, offering_ids=[offering.pk])
        for listener in offering_change_listeners:
            listener(offering, "moved")
        audit_log_record(
            actor=changed_by,
            action="bookings.offering.move",
            target=offering,
            data={"from": previous.isoformat(), "to": starts_at.isoformat()},
        )
        return offering

    with offering_transaction():
        return write()


# What ``offering_update`` may change: neither a move (``offering_reschedule``),
# a cancellation (``offering_cancel``) nor places (``offering_change_capacity``),
# which tell families or promote the waiting list.
OFFERING_DETAIL_FIELDS = (
    "title",
    "unit",
    "booking_opens_at",
    "booking_closes_at",
    "cancel_closes_hours",
)


def _current(offering: Offering, name: str):
    # The unit by id: comparing instances would load the current unit first.
    return offering.unit_id if name == "unit" else getattr(offering, name)


def offering_update(*, offering_id: int, changed_by, **changes) -> Offering:
    """Change an offering's title, unit, booking window or cancel deadline.

    Only the fields passed are written, and only if they differ; nobody is told
    (a new booking window is not news to families who already booked).
    """
    unknown = set(changes) - set(OFFERING_DETAIL_FIELDS)
    if unknown:
        raise TypeError(f"offering_update cannot change {sorted(unknown)}")
    if "title" in changes:
        changes["title"] = changes["title"][:200]
    compare = {n: getattr(v, "pk", v) if n == "unit" else v for n, v in changes.items()}

    def write() -> Offering:
        offering = offerings_lock([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        changed = sorted(
            name for name, value in compare.items() if _current(offering, name) != value
        )
        if not changed:
            return offering
        if "unit" in changed:  # an event's figures move to the new unit
            signals.participation_changed.send(sender=Offering, offering_ids=[offering.pk])
        for name in changed:
            setattr(offering, name, changes[name])
        opens, closes = offering.booking_opens_at, offering.booking_closes_at
        if opens and closes and closes <= opens:
            raise BookingError("closes_before_opens")
        offering.save(update_fields=changed)
        if "unit" in changed:
            signals.participation_changed.send(sender=Offering, offering_ids=[offering.pk])
        audit_log_record(
            actor=changed_by,
            action="bookings.offering.update",
            target=offering,
            data={"fields": changed},
        )
        return offering

    with offering_transaction():
        return write()


def offering_change_capacity(*, offering_id: int, capacity: int, changed_by) -> Offering:
    """Change capacity; more places promote the waiting list, fewer never evict."""
    if capacity < 1:
        raise BookingError("bad_capacity")

    def write() -> tuple[Offering, list[Booking]]:
        offering = offerings_lock([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        if capacity < offering.places_taken:
            raise BookingError("capacity_below_taken")
        offering.capacity = capacity
        promoted = _promote_waiting(offering, timezone.now())
        offering.save(update_fields=["capacity", "places_taken", "waiting_families"])
        audit_log_record(
            actor=changed_by,
            action="bookings.offering.capacity",
            target=offering,
            data={"capacity": capacity, "promoted": [b.pk for b in promoted]},
        )
        _announce_promotions(offering, promoted)
        return offering, promoted

    with offering_transaction():
        offering, _promoted = write()
    return offering


def booking_mark_attendance(
    *, booking_id: int, present: bool, marked_by, checked_in_at=None
) -> tuple[Booking, bool]:
    """Mark a confirmed booking present or absent.

    The one path for rosters, bulk marking, QR check-in, event check-in and
    admin: it is accepted only while ``attendance_marking`` says marking is open
    (from check-in opening until some days after the end), so nobody is marked,
    and no credit posted, days before a session.

    Returns the booking and whether it newly became present, so that callers
    (course credits) act exactly once.
    """

    def write() -> tuple[Booking, bool]:
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("offering")
            .filter(pk=booking_id)
            .first()
        )
        if booking is None:
            raise BookingError("booking_missing")
        if booking.status != Booking.Status.CONFIRMED:
            raise BookingError("not_confirmed")
        marking = attendance_marking(offering=booking.offering)
        if marking.refusal is not None:
            raise marking.refusal
        new_value = Booking.Attendance.PRESENT if present else Booking.Attendance.ABSENT
        newly_present = present and booking.attendance != Booking.Attendance.PRESENT
        if booking.attendance == new_value:
            return booking, False
        booking.attendance = new_value
        booking.checked_in_at = (checked_in_at or timezone.now()) if present else None
        booking.save(update_fields=["attendance", "checked_in_at"])
        signals.participation_changed.send(sender=Booking, offering_ids=[booking.offering_id])
        audit_log_record(
            actor=marked_by,
            action="bookings.booking.attendance",
            target=booking,
            data={"attendance": new_value},
        )
        return booking, newly_present

    with offering_transaction():
        return write()


def offering_create(
    *,
    kind: str,
    title: str,
    unit,
    starts_at,
    ends_at,
    capacity: int,
    booking_opens_at=None,
    booking_closes_at=None,
    cancel_closes_hours: int | None = None,
    created_by=None,
) -> Offering:
    """Create the limited places for a course session or an event."""
    if ends_at <= starts_at:
        raise BookingError("ends_before_start")
    offering = Offering.objects.create(
        kind=kind,
        title=title[:200],
        unit=unit,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        booking_opens_at=booking_opens_at,
        booking_closes_at=booking_closes_at,
        cancel_closes_hours=cancel_closes_hours,
    )
    audit_log_record(
        actor=created_by,
        action="bookings.offering.create",
        target=offering,
        data={"kind": kind, "capacity": capacity},
    )
    return offering
