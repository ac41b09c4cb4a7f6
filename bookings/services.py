"""One path for every write on limited places: book, cancel, promote, mark attendance.

Seats are protected by locking the Offering row (``SELECT … FOR UPDATE``) inside
``transaction.atomic()``, always in ascending id order, with a short
``lock_timeout`` on PostgreSQL. A lock timeout becomes ``BookingBusy`` ("busy,
try again"), never a 500. Messages and tasks are sent only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from members.models import Child, Family, Guardian
from members.services import audit_log_record

from .errors import BookingBusy, BookingError
from .models import Booking, BookingAttendee, Offering

# Callbacks run after commit with the promoted booking ids; the notification
# sender registers one (see bookings/apps.py). Kept as hooks so that this
# module does not depend on how families are told.
promotion_listeners: list[Callable[[list[int]], None]] = []

# Called INSIDE the transaction that cancels or moves an offering, with the
# locked offering and "cancelled" or "moved", so that whatever tells families
# (the reminders in events/) writes its notices atomically with the change.
offering_change_listeners: list[Callable[[Offering, str], None]] = []


def _announce_promotions(promoted: list[Booking]) -> None:
    if not promoted:
        return
    promoted_ids = [b.pk for b in promoted]
    for listener in promotion_listeners:
        # After the commit: a rolled-back promotion must never be announced.
        # robust: a listener that fails (broker down) must not turn a committed
        # cancellation into an error page; the beat sweep sends the notice later.
        transaction.on_commit(lambda listener=listener: listener(promoted_ids), robust=True)


def _set_lock_timeout() -> None:
    """Bound how long this transaction waits for a row lock (PostgreSQL only)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # SET cannot take a bind parameter; set_config(..., is_local=true) is
            # the parameterised equivalent of SET LOCAL.
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [settings.BOOKING_LOCK_TIMEOUT]
            )


def _lock_offerings(offering_ids: Iterable[int]) -> dict[int, Offering]:
    """Lock offerings in ascending id order, so two writers never deadlock."""
    _set_lock_timeout()
    ids = sorted(set(offering_ids))
    locked = Offering.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    return {offering.pk: offering for offering in locked}


def _is_lock_timeout(error: OperationalError) -> bool:
    sqlstate = getattr(getattr(error, "__cause__", None), "sqlstate", None)
    # 55P03 lock_not_available; 40P01 deadlock_detected; SQLite says "locked".
    return sqlstate in ("55P03", "40P01") or "locked" in str(error).lower()


def _run_locked(fn):
    """Run ``fn`` in a transaction; turn lock timeouts into BookingBusy."""
    try:
        with transaction.atomic():
            return fn()
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise BookingBusy() from error
        raise


def _validate_party(family: Family, guardian_ids: list[int], child_ids: list[int]):
    guardians = list(Guardian.objects.filter(family=family, pk__in=guardian_ids))
    children = list(Child.objects.filter(family=family, pk__in=child_ids))
    if len(guardians) != len(set(guardian_ids)) or len(children) != len(set(child_ids)):
        raise BookingError("not_family_member")
    if not guardians and not children:
        raise BookingError("empty_party")
    return guardians, children


def _check_open(offering: Offering, now) -> None:
    if offering.status == Offering.Status.CANCELLED:
        raise BookingError("offering_cancelled")
    if offering.status == Offering.Status.FINISHED or offering.starts_at <= now:
        raise BookingError("offering_started")
    if offering.booking_opens_at and now < offering.booking_opens_at:
        raise BookingError("booking_not_open")
    if offering.booking_closes_at and now > offering.booking_closes_at:
        raise BookingError("booking_closed")


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
        offering = _lock_offerings([offering_id]).get(offering_id)
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
        return booking

    try:
        return _run_locked(write)
    except IntegrityError as error:
        # The row lock makes this unreachable on PostgreSQL; on SQLite (no FOR
        # UPDATE) the partial unique constraint is the last line of defence.
        raise BookingError("already_booked") from error


_ACTIVE = (Booking.Status.CONFIRMED, Booking.Status.WAITING)


def cancel_deadline(offering: Offering):
    hours = offering.cancel_closes_hours
    if hours is None:
        hours = settings.BOOKING_CANCEL_CLOSES_HOURS
    return offering.starts_at - timedelta(hours=hours)


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
        offering = _lock_offerings([offering_id])[offering_id]
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
        return booking, promoted

    booking, promoted = _run_locked(write)
    _announce_promotions(promoted)
    return booking


def offering_cancel(*, offering_id: int, cancelled_by) -> Offering:
    """Cancel an offering: no more bookings or promotions; listeners tell families."""

    def write() -> Offering:
        offering = _lock_offerings([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        if offering.status == Offering.Status.CANCELLED:
            raise BookingError("already_cancelled_offering")
        offering.status = Offering.Status.CANCELLED
        offering.save(update_fields=["status"])
        for listener in offering_change_listeners:
            listener(offering, "cancelled")
        audit_log_record(actor=cancelled_by, action="bookings.offering.cancel", target=offering)
        return offering

    return _run_locked(write)


def offering_reschedule(*, offering_id: int, starts_at, ends_at, changed_by) -> Offering:
    """Move an offering that has not started; listeners tell families once."""
    if ends_at <= starts_at:
        raise BookingError("ends_before_start")

    def write() -> Offering:
        offering = _lock_offerings([offering_id]).get(offering_id)
        if offering is None:
            raise BookingError("offering_missing")
        if (offering.starts_at, offering.ends_at) == (starts_at, ends_at):
            return offering
        if offering.starts_at <= timezone.now():
            raise BookingError("offering_started_no_move")
        previous = offering.starts_at
        offering.starts_at, offering.ends_at = starts_at, ends_at
        offering.save(update_fields=["starts_at", "ends_at"])
        for listener in offering_change_listeners:
            listener(offering, "moved")
        audit_log_record(
            actor=changed_by,
            action="bookings.offering.move",
            target=offering,
            data={"from": previous.isoformat(), "to": starts_at.isoformat()},
        )
        return offering

    return _run_locked(write)


def offering_change_capacity(*, offering_id: int, capacity: int, changed_by) -> Offering:
    """Change capacity; more places promote the waiting list, fewer never evict."""

    def write() -> tuple[Offering, list[Booking]]:
        offering = _lock_offerings([offering_id])[offering_id]
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
        return offering, promoted

    offering, promoted = _run_locked(write)
    _announce_promotions(promoted)
    return offering


def booking_mark_attendance(
    *, booking_id: int, present: bool, marked_by, checked_in_at=None
) -> tuple[Booking, bool]:
    """Mark a confirmed booking present or absent.

    Returns the booking and whether it newly became present, so that callers
    (course credits) act exactly once.
    """

    def write() -> tuple[Booking, bool]:
        _set_lock_timeout()
        booking = Booking.objects.select_for_update(of=("self",)).filter(pk=booking_id).first()
        if booking is None:
            raise BookingError("booking_missing")
        if booking.status != Booking.Status.CONFIRMED:
            raise BookingError("not_confirmed")
        new_value = Booking.Attendance.PRESENT if present else Booking.Attendance.ABSENT
        newly_present = present and booking.attendance != Booking.Attendance.PRESENT
        if booking.attendance == new_value:
            return booking, False
        booking.attendance = new_value
        booking.checked_in_at = (checked_in_at or timezone.now()) if present else None
        booking.save(update_fields=["attendance", "checked_in_at"])
        audit_log_record(
            actor=marked_by,
            action="bookings.booking.attendance",
            target=booking,
            data={"attendance": new_value},
        )
        return booking, newly_present

    return _run_locked(write)


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


def booking_promotion_notify(*, booking_id: int) -> bool:
    """Tell a promoted family by in-site notification and email, exactly once.

    Runs in the worker. The booking row is locked and ``promotion_notified_at``
    set in the same transaction as the notices, so a retried or duplicated task
    tells nobody twice. If sending the email fails, everything rolls back and
    the task retries. Returns whether notices were sent now.
    """
    from django.core.exceptions import ObjectDoesNotExist
    from django.core.mail import send_mail
    from django.urls import NoReverseMatch, reverse
    from django.utils.translation import gettext as _

    from notifications.services import notification_create

    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("offering")
            .filter(pk=booking_id)
            .first()
        )
        if (
            booking is None
            or booking.promoted_at is None
            or booking.promotion_notified_at is not None
            or booking.status != Booking.Status.CONFIRMED
        ):
            return False
        offering = booking.offering
        starts = timezone.localtime(offering.starts_at).strftime("%Y-%m-%d %H:%M")
        try:
            # By URL name and reverse relation: bookings imports neither courses nor events.
            if offering.kind == Offering.Kind.EVENT:
                url = reverse("events:detail", args=[offering.event.pk])
            else:
                url = reverse("courses:my_learning")
        except (NoReverseMatch, ObjectDoesNotExist):
            url = ""
        title = _("候补转正：%(title)s") % {"title": offering.title}
        body = _(
            "您家庭候补的“%(title)s”（%(starts)s 开始，北京时间）已有空位，"
            "已为您转为正式报名，共 %(party)s 人。如不能参加，请及时取消，把名额留给其他家庭。"
        ) % {"title": offering.title, "starts": starts, "party": booking.party_size}
        users = (
            [g.user for g in booking.family.guardians.select_related("user")]
            if booking.family_id
            else []
        )
        for user in users:
            notification_create(
                user=user, title=title, body=body, url=url, kind="bookings.promoted"
            )
        recipients = [u.email for u in users if u.email]
        if recipients:
            send_mail(title, body, None, recipients)
        booking.promotion_notified_at = timezone.now()
        booking.save(update_fields=["promotion_notified_at"])
        audit_log_record(
            actor=None,
            action="bookings.booking.promotion_notice",
            target=booking,
            data={"recipients": len(users)},
        )
        return True


def booking_promotions_unsent(*, older_than_seconds: int = 60, limit: int = 200) -> list[int]:
    """Promoted bookings whose notice has not gone out (e.g. the broker was down)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Booking.objects.filter(
            promoted_at__isnull=False,
            promoted_at__lt=cutoff,
            promotion_notified_at__isnull=True,
            status=Booking.Status.CONFIRMED,
        )
        .order_by("promoted_at")
        .values_list("pk", flat=True)[:limit]
    )
