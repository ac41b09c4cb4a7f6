"""Writes for events: create, change, move, cancel, register, check in, calendars.

Places, registration, the waiting list and check-in are the bookings service's
(``bookings.services``); this module adds what is particular to events and
tells registrants (events/reminders.py) after the commit.
"""

from __future__ import annotations

import datetime
import hmac
import re
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings import services as bookings_services
from bookings.locking import offering_transaction, offerings_lock
from bookings.models import Booking, Offering
from courses.models import CourseSession
from courses.services import session_ticket_check_in
from members import access
from members.models import Alliance, Family, MemberUnit
from members.services import audit_log_record

from .errors import EventError
from .models import CalendarFeed, Event, Notice, ReminderRule
from .notices import NoticeError
from .reminders import notice_rows_create

CHECKIN_SALT = "events.checkin"


def check_event_times(*, starts_at, ends_at, booking_opens_at, booking_closes_at) -> None:
    if ends_at <= starts_at:
        raise EventError("ends_before_start")
    if booking_closes_at and booking_closes_at > starts_at:
        raise EventError("closes_after_start")
    if booking_opens_at and booking_closes_at and booking_closes_at <= booking_opens_at:
        raise EventError("closes_before_opens")


def _check_unit(user, unit: MemberUnit) -> None:
    if user is not None and not access.can_change_unit(user, unit):
        raise EventError("cannot_change_unit")


def event_reminder_offsets_set(*, event: Event, hours: list[float] | None) -> None:
    """Set the event's own reminder offsets; ``None`` returns it to its kind's rules."""
    ReminderRule.objects.filter(event=event).delete()
    if hours is None:
        return
    ReminderRule.objects.bulk_create(
        [
            ReminderRule(event=event, offset_minutes=int(round(h * 60)))
            for h in sorted(set(hours), reverse=True)
            if h > 0
        ]
    )


def event_create(
    *,
    created_by,
    title: str,
    kind: str,
    organiser_unit: MemberUnit,
    audience: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    capacity: int,
    organiser_alliance: Alliance | None = None,
    venue: str = "",
    online_url: str = "",
    description: str = "",
    booking_opens_at: datetime.datetime | None = None,
    booking_closes_at: datetime.datetime | None = None,
    status: str = Event.Status.DRAFT,
    reminder_hours: list[float] | None = None,
) -> Event:
    """Create the event and its limited places (one ``bookings.Offering``) together."""
    _check_unit(created_by, organiser_unit)
    check_event_times(
        starts_at=starts_at,
        ends_at=ends_at,
        booking_opens_at=booking_opens_at,
        booking_closes_at=booking_closes_at,
    )
    if not venue and not online_url:
        raise EventError("needs_place")
    if capacity <= 0:
        raise EventError("bad_capacity")
    with transaction.atomic():
        offering = bookings_services.offering_create(
            kind=Offering.Kind.EVENT,
            title=title,
            unit=organiser_unit,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            booking_opens_at=booking_opens_at,
            booking_closes_at=booking_closes_at,
            created_by=created_by,
        )
        event = Event.objects.create(
            title=title,
            kind=kind,
            description=description,
            organiser_alliance=organiser_alliance,
            organiser_unit=organiser_unit,
            audience=audience,
            venue=venue,
            online_url=online_url,
            offering=offering,
            status=status,
        )
        event_reminder_offsets_set(event=event, hours=reminder_hours)
        audit_log_record(
            actor=created_by,
            action="events.event.create",
            target=event,
            data={"offering": offering.pk, "status": status},
        )
    return event


_EVENT_FIELDS = (
    "title",
    "kind",
    "description",
    "organiser_alliance",
    "organiser_unit",
    "audience",
    "venue",
    "online_url",
    "status",
)
_TIME_FIELDS = ("starts_at", "ends_at", "booking_opens_at", "booking_closes_at")
_UNSET = object()


def event_update(
    *, event_id: int, updated_by, reminder_hours=_UNSET, capacity: int | None = None, **changes
) -> Event:
    """Change an event, all or nothing, in one transaction.

    Its offering changes only through the bookings services, like a course
    session's: a new start or end is ``offering_reschedule`` (unsent reminders
    follow the new time and each registered or waiting family gets one "time
    changed" notice, from the same listener as course sessions), places are
    ``offering_change_capacity`` (more places promote the waiting list), and the
    title, unit and booking window are ``offering_update``. Any refusal, or a
    lock held past the lock timeout (``BookingBusy``), leaves the event and its
    offering exactly as they were.
    """
    unknown = set(changes) - set(_EVENT_FIELDS) - set(_TIME_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    if capacity is not None and capacity <= 0:
        raise EventError("bad_capacity")
    now = timezone.now()
    with offering_transaction():
        # The event row before its offering, as every writer of both does
        # (bookings/locking.py), so two coordinators' edits never deadlock.
        event = Event.objects.select_for_update().get(pk=event_id)
        _check_unit(updated_by, event.organiser_unit)
        if "organiser_unit" in changes:
            _check_unit(updated_by, changes["organiser_unit"])
        if event.status == Event.Status.CANCELLED:
            raise EventError("already_cancelled")
        offering = offerings_lock([event.offering_id])[event.offering_id]
        times = {f: changes.get(f, getattr(offering, f)) for f in _TIME_FIELDS}
        check_event_times(**times)
        moved = times["starts_at"] != offering.starts_at or times["ends_at"] != offering.ends_at
        if moved and offering.starts_at <= now:
            raise EventError("finished")
        for name in _EVENT_FIELDS:
            if name in changes:
                setattr(event, name, changes[name])
        if not event.venue and not event.online_url:
            raise EventError("needs_place")
        if event.status == Event.Status.CANCELLED:
            raise EventError("already_cancelled")  # cancelling goes through event_cancel
        event.save()
        # Before the move: the listener skips the reminders of the rules in force.
        if reminder_hours is not _UNSET:
            event_reminder_offsets_set(event=event, hours=reminder_hours)
        bookings_services.offering_update(
            offering_id=offering.pk,
            changed_by=updated_by,
            title=event.title,
            unit=event.organiser_unit,
            booking_opens_at=times["booking_opens_at"],
            booking_closes_at=times["booking_closes_at"],
        )
        if moved:
            bookings_services.offering_reschedule(
                offering_id=offering.pk,
                starts_at=times["starts_at"],
                ends_at=times["ends_at"],
                changed_by=updated_by,
            )
        # Last, and in the same transaction: fewer places than are taken is
        # refused, and the title, window, move and its notices roll back with it.
        if capacity is not None and capacity != offering.capacity:
            bookings_services.offering_change_capacity(
                offering_id=offering.pk, capacity=capacity, changed_by=updated_by
            )
        audit_log_record(
            actor=updated_by,
            action="events.event.update",
            target=event,
            data={
                "fields": sorted(changes),
                "moved": moved,
                "starts_at": times["starts_at"].isoformat(),
            },
        )
    event.refresh_from_db()
    return event


def event_cancel(*, event_id: int, cancelled_by, reason: str = "") -> Event:
    """Cancel the event and, through ``bookings.offering_cancel``, its offering:
    unsent reminders are skipped and each registered or waiting family gets one
    cancellation notice (the same listener as for course sessions)."""
    with offering_transaction():
        event = Event.objects.select_for_update().get(pk=event_id)
        _check_unit(cancelled_by, event.organiser_unit)
        if event.status == Event.Status.CANCELLED:
            raise EventError("already_cancelled")
        offering = offerings_lock([event.offering_id])[event.offering_id]
        event.status = Event.Status.CANCELLED
        event.save(update_fields=["status", "updated_at"])
        # An offering cancelled on its own already told its families.
        if offering.status != Offering.Status.CANCELLED:
            bookings_services.offering_cancel(offering_id=offering.pk, cancelled_by=cancelled_by)
        audit_log_record(
            actor=cancelled_by,
            action="events.event.cancel",
            target=event,
            data={"reason": reason[:200]},
        )
    return event


def event_register(
    *,
    event_id: int,
    family: Family,
    booked_by,
    guardian_ids: list[int] | None = None,
    child_ids: list[int] | None = None,
) -> Booking:
    """Book places through the bookings service; the family gets a receipt.

    The receipt is written by the outbox (events/receivers.py, on
    ``booking_created``) in the booking's transaction, as for course sessions;
    a worker sends it after the commit, and if the broker is down the next beat
    pass sends it. The registration itself never depends on Redis.
    """
    with transaction.atomic():
        event = Event.objects.get(pk=event_id)
        if event.status != Event.Status.PUBLISHED:
            raise EventError("not_published")
        return bookings_services.booking_create(
            offering_id=event.offering_id,
            family=family,
            booked_by=booked_by,
            guardian_ids=guardian_ids,
            child_ids=child_ids,
        )


def event_registration_cancel(*, event_id: int, family: Family, cancelled_by) -> Booking:
    """The family withdraws; the bookings service promotes the waiting list, and
    the outbox sends the withdrawal receipt and any promotion notices."""
    event = Event.objects.get(pk=event_id)
    booking = (
        Booking.objects.filter(
            offering_id=event.offering_id,
            family=family,
            status__in=[Booking.Status.CONFIRMED, Booking.Status.WAITING],
        )
        .values_list("pk", flat=True)
        .first()
    )
    if booking is None:
        raise EventError("not_registered")
    return bookings_services.booking_cancel(
        booking_id=booking, family=family, cancelled_by=cancelled_by
    )


def event_check_in(*, event: Event, booking_id: int, marked_by, present: bool = True) -> Booking:
    """Coordinator's roster: mark a confirmed booking of this event present or absent."""
    _check_unit(marked_by, event.organiser_unit)
    if not Booking.objects.filter(pk=booking_id, offering_id=event.offering_id).exists():
        raise EventError("not_registered")
    booking, _newly = bookings_services.booking_mark_attendance(
        booking_id=booking_id, present=present, marked_by=marked_by
    )
    return booking


def event_checkin_code(*, event: Event) -> str:
    """The signed part of the on-site QR link: the event and the moment it was made.

    It works for ``COURSE_CHECKIN_TOKEN_MAX_AGE`` seconds, like the course QR (one
    setting for both): a photo of the screen stops working, and the coordinator's
    page swaps in a fresh code well before the shown one expires.
    """
    return signing.TimestampSigner(salt=CHECKIN_SALT).sign(str(event.pk))


def event_checkin_code_check(*, event: Event, code: str) -> None:
    """Refuse a code that is not this event's, or is older than the setting allows."""
    try:
        raw = signing.TimestampSigner(salt=CHECKIN_SALT).unsign(
            code, max_age=settings.COURSE_CHECKIN_TOKEN_MAX_AGE
        )
    except signing.SignatureExpired as error:
        raise EventError("checkin_expired") from error
    except signing.BadSignature as error:
        raise EventError("checkin_bad_code") from error
    if raw != str(event.pk):
        raise EventError("checkin_bad_code")


def event_checkin_window(*, event: Event) -> tuple[datetime.datetime, datetime.datetime]:
    """Self check-in on site: from check-in opening (as for courses) to the end."""
    offering = event.offering
    opens = offering.starts_at - datetime.timedelta(
        minutes=settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE
    )
    return opens, offering.ends_at


def event_self_check_in(*, event: Event, code: str, user, family: Family | None) -> Booking:
    """On site: a guardian scans the event's QR code and checks the family in."""
    event_checkin_code_check(event=event, code=code)
    opens, closes = event_checkin_window(event=event)
    if not (opens <= timezone.now() <= closes):
        raise EventError("checkin_closed", minutes=settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE)
    booking = (
        Booking.objects.filter(
            offering_id=event.offering_id, family=family, status=Booking.Status.CONFIRMED
        ).first()
        if family is not None
        else None
    )
    if booking is None:
        raise EventError("not_registered")
    booking, _newly = bookings_services.booking_mark_attendance(
        booking_id=booking.pk, present=True, marked_by=user
    )
    return booking


# --- tickets: one code per registered family ------------------------------------------
#
# A ticket is the booking's id followed by an 8-digit check derived by signing
# (django.core.signing, its own salt) the booking, its offering and its family.
# Nothing is stored: the code can be worked out again from the booking, digits
# only so that it can be typed on a phone's number pad, and a booking that is
# cancelled and booked again gets a new id and so a new ticket.
#
# Nothing in the code is particular to events: a course session's booking has a
# ticket made the same way (``ticket_code``), and ``ticket_check_in`` checks in
# a ticket of any offering (the API's check-in kiosk), through the event's or
# the course session's own marking path.

TICKET_SALT = "events.ticket"
TICKET_CHECK_DIGITS = 8


def _ticket_checks(booking_id: int, offering_id: int, family_id: int | None) -> list[str]:
    signer = signing.Signer(salt=TICKET_SALT)
    value = f"{booking_id}:{offering_id}:{family_id}"
    checks = []
    # The current secret key first; fallbacks keep printed tickets valid while
    # the key is being rotated (SECRET_KEY_FALLBACKS).
    for key in [signer.key, *signer.fallback_keys]:
        digest = signing.b64_decode(signer.signature(value, key=key).encode())
        number = int.from_bytes(digest, "big") % 10**TICKET_CHECK_DIGITS
        checks.append(f"{number:0{TICKET_CHECK_DIGITS}d}")
    return checks


def ticket_code(*, booking: Booking) -> str:
    """The family's ticket for this booking of a course session or an event (digits only)."""
    check = _ticket_checks(booking.pk, booking.offering_id, booking.family_id)[0]
    return f"{booking.pk}{check}"


event_ticket_code = ticket_code  # the event pages' name for it


def _ticket_parse(code: str) -> tuple[int, str] | None:
    text = code or ""
    if "code=" in text:  # a scanner that types the whole link from the ticket's QR
        text = text.split("code=", 1)[1].split("&", 1)[0]
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) <= TICKET_CHECK_DIGITS or len(digits) > TICKET_CHECK_DIGITS + 12:
        return None
    return int(digits[:-TICKET_CHECK_DIGITS]), digits[-TICKET_CHECK_DIGITS:]


def event_ticket_booking(*, event: Event, code: str) -> Booking:
    """The booking a ticket stands for, if it may be checked in at ``event``.

    The check digits are compared first, so a guessed or mistyped code says
    nothing about other bookings; then a ticket of another event, a cancelled
    booking or a family still waiting is refused with its own message.
    """
    booking = _ticket_lookup(code)
    if booking.offering_id != event.offering_id:
        raise EventError("ticket_other_event", title=booking.offering.title)
    _ticket_confirmed(booking)
    return booking


def _ticket_lookup(code: str) -> Booking:
    # The check digits first: a guessed or mistyped code says nothing about bookings.
    parsed = _ticket_parse(code)
    if parsed is None:
        raise EventError("ticket_bad_code")
    booking_id, check = parsed
    booking = Booking.objects.select_related("offering").filter(pk=booking_id).first()
    if booking is None or not any(
        hmac.compare_digest(check, expected)
        for expected in _ticket_checks(booking.pk, booking.offering_id, booking.family_id)
    ):
        raise EventError("ticket_bad_code")
    return booking


def _ticket_confirmed(booking: Booking) -> None:
    if booking.status == Booking.Status.CANCELLED:
        raise EventError("ticket_cancelled")
    if booking.status != Booking.Status.CONFIRMED:
        raise EventError("ticket_waiting")


def ticket_booking(*, code: str) -> Booking:
    """The confirmed booking a ticket stands for, whichever offering (course session
    or event) it is for; refused like ``event_ticket_booking`` (bad code, cancelled,
    waiting). The caller decides whether this offering is one it may check in for."""
    booking = _ticket_lookup(code)
    _ticket_confirmed(booking)
    return booking


def event_ticket_check_in(*, event: Event, code: str, marked_by) -> tuple[Booking, bool]:
    """Staff at the door scan or type a family's ticket: the family is checked in.

    Returns the booking and whether it was newly marked present (False: it had
    already been checked in, by ticket, by its own scan or on the roster).
    """
    _check_unit(marked_by, event.organiser_unit)
    booking = event_ticket_booking(event=event, code=code)
    return bookings_services.booking_mark_attendance(
        booking_id=booking.pk, present=True, marked_by=marked_by
    )


def ticket_check_in(*, code: str, marked_by) -> tuple[Booking, bool]:
    """A family's ticket scanned at the door of a course session or an event.

    The one ticket check-in for every offering: an event's ticket goes through
    ``event_ticket_check_in`` (who may change the organising unit), a course
    session's through ``courses.services.session_ticket_check_in`` (attendance
    credits, once). Returns the booking and whether it was newly checked in.
    """
    booking = ticket_booking(code=code)
    event = (
        Event.objects.select_related("offering", "organiser_unit")
        .filter(offering_id=booking.offering_id)
        .first()
    )
    if event is not None:
        return event_ticket_check_in(event=event, code=code, marked_by=marked_by)
    session = (
        CourseSession.objects.select_related("offering")
        .filter(offering_id=booking.offering_id)
        .first()
    )
    if session is None:  # an offering of neither kind has no door to check in at
        raise EventError("ticket_bad_code")
    return session_ticket_check_in(session=session, booking_id=booking.pk, marked_by=marked_by)


def _feed_lock(family: Family) -> None:
    # The family row is the lock for its feeds: every writer of a live feed takes
    # it first, so two first visits (or two taps on "renew") run one after the
    # other and the second sees what the first wrote (``one_live_feed`` is never
    # hit). NO KEY UPDATE: bookings and guardians may still point at the family.
    Family.objects.select_for_update(no_key=True).filter(pk=family.pk).first()


def calendar_feed_get_or_create(*, family: Family) -> CalendarFeed:
    """The family's live feed; the first visit makes it (two first visits make one)."""
    feed = CalendarFeed.objects.filter(family=family, revoked_at__isnull=True).first()
    if feed is not None:
        return feed
    with transaction.atomic():
        _feed_lock(family)
        feed = CalendarFeed.objects.filter(family=family, revoked_at__isnull=True).first()
        return feed or CalendarFeed.objects.create(family=family)


def calendar_feed_revoke(*, family: Family, revoked_by, renew: bool = True) -> CalendarFeed | None:
    """Revoke the family's secret feed URL (and by default issue a new one).

    Two renewals at once run in turn: the second revokes the link the first made,
    as if it had been sent a moment later.
    """
    with transaction.atomic():
        _feed_lock(family)
        count = CalendarFeed.objects.filter(family=family, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        audit_log_record(
            actor=revoked_by,
            action="events.calendar_feed.revoke",
            target=family,
            data={"revoked": count, "renewed": renew},
        )
        return CalendarFeed.objects.create(family=family) if renew else None


# --- notices from other apps -------------------------------------------------

_TOPIC = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _notice_fields_check(*, key, topic, subject, lead, sms, path, wechat_status) -> None:
    fields = Notice._meta
    checks = [
        ("key", key, True),
        ("topic", topic, True),
        ("subject", subject, True),
        ("lead", lead, True),
        ("sms", sms, False),
        ("path", path, False),
        ("wechat_status", wechat_status, False),
    ]
    for name, value, required in checks:
        if required and not value.strip():
            raise NoticeError(name, _("不能为空。"))
        limit = fields.get_field(name).max_length
        if limit and len(value) > limit:
            raise NoticeError(name, _("不能超过 %(n)s 个字符。") % {"n": limit})
    if not _TOPIC.match(topic):
        raise NoticeError(
            "topic", _("只能用小写字母、数字和 . _ -，例如 handbook.learning_family。")
        )
    if path and (not path.startswith("/") or path.startswith("//")):
        raise NoticeError("path", _("须是本站的路径，以 / 开头，例如 /handbook/。"))


def _notice_insert(*, now, unit_id, **fields) -> Notice | None:
    """INSERT … ON CONFLICT (key) DO NOTHING: the new Notice, or None if the key
    was taken (by a committed call, or by one still running: PostgreSQL makes
    this statement wait for it, so two first calls make one notice)."""
    table = connection.ops.quote_name(Notice._meta.db_table)
    names = ["key", "topic", "subject", "lead", "sms", "path", "wechat_status"]
    columns = ", ".join([*names, "unit_id", "created_at"])
    marks = ", ".join(["%s"] * (len(names) + 2))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
            "ON CONFLICT (key) DO NOTHING RETURNING id",
            [*(fields[name] for name in names), unit_id, now],
        )
        found = cursor.fetchone()
    if found is None:
        return None
    return Notice(id=found[0], unit_id=unit_id, created_at=now, **fields)


def notice_send(
    *,
    key: str,
    topic: str,
    subject: str,
    lead: str,
    family_ids: Iterable[int] = (),
    user_ids: Iterable[int] = (),
    sms: str = "",
    path: str = "",
    wechat_status: str = "",
    unit: MemberUnit | int | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """Tell families (every active guardian of ``family_ids``) and people
    (``user_ids``) something, once, through the outbox (docs/EVENTS.md,
    "Notices from other apps"). Returns the delivery rows written.

    ``key`` names the message (e.g. ``"handbook.learning_family:12:345"``): the
    first call with a key writes the ``Notice`` and its rows, one per person and
    chosen channel (in-site, email, WeChat, SMS out of quiet hours); any later
    call with that key writes nothing and returns 0, even at the same instant
    (the key's ``INSERT … ON CONFLICT DO NOTHING`` waits for the other call's
    transaction). ``topic`` groups notices for the skip hook
    (events.notices.notice_check_register) and the inbox; ``unit`` is the unit
    it speaks for (whose coordinators see it in the delivery log; None: district
    administrators only). Written in the caller's transaction; sent by workers
    after the commit. Bad fields raise ``NoticeError`` naming the field.
    """
    fields = {
        "key": str(key or ""),
        "topic": str(topic or ""),
        "subject": " ".join(str(subject or "").split()),
        "lead": str(lead or "").strip(),
        "sms": str(sms or "").strip(),
        "path": str(path or "").strip(),
        "wechat_status": str(wechat_status or "").strip(),
    }
    _notice_fields_check(**fields)
    now = now or timezone.now()
    unit_id = unit.pk if isinstance(unit, MemberUnit) else unit
    family_ids, user_ids = list(family_ids), list(user_ids)
    with transaction.atomic():
        notice = _notice_insert(now=now, unit_id=unit_id, **fields)
        if notice is None:
            return 0
        return notice_rows_create(notice=notice, family_ids=family_ids, user_ids=user_ids, now=now)
