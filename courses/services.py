"""Writes for courses: sessions (with their Offering), attendance, check-in,
online-lesson progress and the credit bank (学分银行).

Credits are posted only here, only on attendance or a completed online lesson.
The ledger is append-only: each posting has a unique key, so posting twice is a
no-op, and a correction is a reversing row.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Min, OuterRef, Q, Subquery
from django.utils import timezone

from bookings import services as booking_services
from bookings.errors import BookingError
from bookings.locking import offering_transaction
from bookings.models import Booking, Offering
from bookings.selectors import attendance_marking, moment_label
from bookings.signals import participation_changed
from members import access
from members.models import Family
from members.services import audit_log_record

from .errors import CourseError
from .models import Course, CourseSession, CreditEntry, LessonProgress, OnlineLesson

CHECKIN_SALT = "courses.checkin"


# Catalogue order ----------------------------------------------------------------


def course_next_session_refresh(*, course_ids=None, stale_only: bool = False) -> int:
    """Recompute ``Course.next_session_at`` in one UPDATE; returns the rows touched.

    Called after a session is created or moved (for its course), by the beat
    sweep for courses whose stored next session has started (``stale_only``),
    and after bulk loads for every course.
    """
    now = timezone.now()
    first_upcoming = (
        CourseSession.objects.filter(
            course=OuterRef("pk"),
            offering__status=Offering.Status.OPEN,
            offering__starts_at__gt=now,
        )
        .order_by()
        .values("course")
        .annotate(first=Min("offering__starts_at"))
        .values("first")
    )
    courses = Course.objects.all()
    if course_ids is not None:
        courses = courses.filter(pk__in=list(course_ids))
    if stale_only:
        courses = courses.filter(next_session_at__lte=now)
    return courses.update(next_session_at=Subquery(first_upcoming))


# Sessions ---------------------------------------------------------------------


def course_session_create(
    *,
    course: Course,
    starts_at,
    ends_at,
    capacity: int,
    venue: str = "",
    online_url: str = "",
    created_by=None,
) -> CourseSession:
    """A session and its limited places, hosted by the parent school's unit."""
    with transaction.atomic():
        offering = booking_services.offering_create(
            kind=Offering.Kind.COURSE_SESSION,
            title=course.title,
            unit=course.parent_school.host_unit,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            created_by=created_by,
        )
        session = CourseSession.objects.create(
            course=course, offering=offering, venue=venue, online_url=online_url
        )
        participation_changed.send(sender=CourseSession, offering_ids=[offering.pk])
        course_next_session_refresh(course_ids=[course.pk])
        audit_log_record(
            actor=created_by,
            action="courses.session.create",
            target=session,
            data={"course": course.pk, "capacity": capacity},
        )
        return session


def course_session_update(
    *,
    session: CourseSession,
    starts_at,
    ends_at,
    capacity: int,
    venue: str,
    online_url: str,
    changed_by=None,
) -> CourseSession:
    """Change times, place and capacity; capacity goes through the booking service."""
    if ends_at <= starts_at:
        raise BookingError("ends_before_start")
    # One transaction (bookings/locking.py): a refused move rolls back the new
    # capacity too, and a lock held too long is "busy", not a 500.
    with offering_transaction():
        offering = session.offering
        if capacity != offering.capacity:
            booking_services.offering_change_capacity(
                offering_id=offering.pk, capacity=capacity, changed_by=changed_by
            )
        # Through the booking service, so families are told of a new time once
        # and their reminders follow it (events/ listens to offering changes).
        booking_services.offering_reschedule(
            offering_id=offering.pk, starts_at=starts_at, ends_at=ends_at, changed_by=changed_by
        )
        session.venue = venue
        session.online_url = online_url
        session.save(update_fields=["venue", "online_url"])
        course_next_session_refresh(course_ids=[session.course_id])
        audit_log_record(
            actor=changed_by,
            action="courses.session.update",
            target=session,
            data={"starts_at": starts_at.isoformat(), "capacity": capacity},
        )
        session.offering.refresh_from_db()
        return session


def course_session_cancel(*, session: CourseSession, cancelled_by) -> CourseSession:
    """Cancel a session: no more bookings, booked and waiting families are told
    once (by the reminders' cancellation notice), and the catalogue moves on."""
    with offering_transaction():
        booking_services.offering_cancel(offering_id=session.offering_id, cancelled_by=cancelled_by)
        course_next_session_refresh(course_ids=[session.course_id])
        audit_log_record(
            actor=cancelled_by,
            action="courses.session.cancel",
            target=session,
            data={"course": session.course_id},
        )
    session.offering.refresh_from_db()
    return session


# Publishing -------------------------------------------------------------------


def _course_published_set(*, course_id: int, published: bool, actor) -> bool:
    with transaction.atomic():
        course = (
            Course.objects.select_for_update(of=("self",))
            .select_related("parent_school")
            .filter(pk=course_id)
            .first()
        )
        if course is None:
            raise CourseError("course_missing")
        # A coordinator publishes only their own units' courses; None is the system.
        if actor is not None and not access.can_change_unit(
            actor, course.parent_school.host_unit_id
        ):
            raise CourseError("course_not_editable")
        if course.is_published == published:
            return False
        course.is_published = published
        course.save(update_fields=["is_published"])
        audit_log_record(
            actor=actor,
            action="courses.course.publish" if published else "courses.course.unpublish",
            target=course,
        )
        return True


def course_publish(*, course_id: int, published_by) -> bool:
    """Show the course in the catalogue. Returns whether it changed (publishing a
    published course is a no-op and writes no audit entry). Admin actions, the
    admin form, views and commands all publish through here."""
    return _course_published_set(course_id=course_id, published=True, actor=published_by)


def course_unpublish(*, course_id: int, unpublished_by) -> bool:
    """Take the course out of the catalogue (its sessions and bookings stay)."""
    return _course_published_set(course_id=course_id, published=False, actor=unpublished_by)


# Credits ----------------------------------------------------------------------


def _member_label(guardian_id: int | None, child_id: int | None) -> str:
    return f"g{guardian_id}" if guardian_id else f"c{child_id}"


def _next_key(base: str) -> str:
    """The base key, or a new generation of it after each reversal of that base.

    Marking present → absent (reversed) → present again earns the credit once more,
    while a repeated or concurrent post of the same generation stays a no-op.
    """
    reversals = CreditEntry.objects.filter(
        Q(reverses__key=base) | Q(reverses__key__startswith=f"{base}:r"),
        reason=CreditEntry.Reason.CORRECTION,
    ).count()
    return base if reversals == 0 else f"{base}:r{reversals}"


def credit_post_for_attendance(*, booking: Booking, created_by=None) -> list[CreditEntry]:
    """One credit row per attendee of a present booking. Idempotent by key."""
    session = CourseSession.objects.select_related("course").get(offering_id=booking.offering_id)
    course = session.course
    rows = []
    for attendee in booking.attendees.all():
        base = f"attendance:{booking.pk}:{_member_label(attendee.guardian_id, attendee.child_id)}"
        rows.append(
            CreditEntry(
                key=_next_key(base),
                family_id=booking.family_id,
                guardian_id=attendee.guardian_id,
                child_id=attendee.child_id,
                term_id=course.term_id,
                course=course,
                amount=course.credits,
                reason=CreditEntry.Reason.ATTENDANCE,
                booking=booking,
                created_by=created_by,
            )
        )
    # ignore_conflicts: a key that already exists (a double scan) is skipped, not duplicated.
    CreditEntry.objects.bulk_create(rows, ignore_conflicts=True)
    participation_changed.send(sender=CreditEntry, credit_keys=[row.key for row in rows])
    return rows


def credit_reverse(*, entry: CreditEntry, created_by, note: str = "") -> CreditEntry:
    """Append a reversing row; the original is never edited."""
    if entry.reason == CreditEntry.Reason.CORRECTION:
        raise CourseError("not_reversible")
    with transaction.atomic():
        # Lock the entry: two reversals sent at once (a double-submitted admin
        # action) run in turn, and the second finds the first's reversing row.
        CreditEntry.objects.select_for_update().filter(pk=entry.pk).first()
        if CreditEntry.objects.filter(reverses=entry).exists():
            raise CourseError("already_reversed")
        reversal = CreditEntry(
            key=f"reverse:{entry.key}",
            family_id=entry.family_id,
            guardian_id=entry.guardian_id,
            child_id=entry.child_id,
            term_id=entry.term_id,
            course_id=entry.course_id,
            amount=-entry.amount,
            reason=CreditEntry.Reason.CORRECTION,
            booking_id=entry.booking_id,
            lesson_progress_id=entry.lesson_progress_id,
            reverses=entry,
            note=note[:200],
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
        )
        reversal.save()
        participation_changed.send(sender=CreditEntry, credit_keys=[reversal.key])
        audit_log_record(
            actor=created_by,
            action="courses.credit.reverse",
            target=entry,
            data={"reversal": reversal.pk, "amount": str(entry.amount)},
        )
        return reversal


def _reverse_attendance_credits(*, booking: Booking, created_by) -> int:
    open_entries = CreditEntry.objects.filter(
        booking=booking, reason=CreditEntry.Reason.ATTENDANCE, reversed_by__isnull=True
    )
    count = 0
    for entry in open_entries:
        credit_reverse(entry=entry, created_by=created_by, note="attendance corrected to absent")
        count += 1
    return count


# Attendance and check-in --------------------------------------------------------


def session_attendance_mark(
    *, session: CourseSession, booking_id: int, present: bool, marked_by
) -> Booking:
    """Mark one booking of this session present or absent, posting or reversing credits.

    The booking row stays locked until the credits are written, so two markers
    (or a scan and the roster) credit once. Outside the marking window
    (``bookings.selectors.attendance_marking``) the bookings service refuses,
    and no credit is posted or reversed.
    """
    booking, _newly_present = _session_mark(
        session=session, booking_id=booking_id, present=present, marked_by=marked_by
    )
    return booking


def _session_mark(
    *, session: CourseSession, booking_id: int, present: bool, marked_by
) -> tuple[Booking, bool]:
    with offering_transaction():
        if not Booking.objects.filter(pk=booking_id, offering_id=session.offering_id).exists():
            raise BookingError("booking_missing")
        booking, newly_present = booking_services.booking_mark_attendance(
            booking_id=booking_id, present=present, marked_by=marked_by
        )
        if newly_present:
            credit_post_for_attendance(booking=booking, created_by=marked_by)
        elif not present:
            _reverse_attendance_credits(booking=booking, created_by=marked_by)
        return booking, newly_present


def session_ticket_check_in(
    *, session: CourseSession, booking_id: int, marked_by
) -> tuple[Booking, bool]:
    """Staff scanned a family's ticket (``events.services.ticket_check_in``) at this
    session: present, with the attendance credits, once. Anyone who may open the
    session's roster may (instructors too, as on the roster page). Returns the
    booking and whether it was newly marked present (False: already checked in)."""
    if not access.can_view_unit(marked_by, session.offering.unit_id):
        raise CourseError("session_not_editable")
    return _session_mark(session=session, booking_id=booking_id, present=True, marked_by=marked_by)


def session_attendance_mark_many(
    *, session: CourseSession, booking_ids: list[int], present: bool, marked_by
) -> tuple[int, list[str]]:
    """Bulk marking from the roster: each booking on its own, errors collected
    (each message once: a closed marking window refuses every row alike)."""
    marking = attendance_marking(offering=session.offering)
    if not marking.is_open:
        return 0, [marking.message]
    done, errors = 0, []
    for booking_id in sorted(set(booking_ids)):
        try:
            session_attendance_mark(
                session=session, booking_id=booking_id, present=present, marked_by=marked_by
            )
            done += 1
        except BookingError as error:
            if str(error.message) not in errors:
                errors.append(str(error.message))
    return done, errors


def checkin_token_make(*, session: CourseSession) -> str:
    return signing.TimestampSigner(salt=CHECKIN_SALT).sign(str(session.pk))


def checkin_session_from_token(token: str) -> CourseSession:
    try:
        raw = signing.TimestampSigner(salt=CHECKIN_SALT).unsign(
            token, max_age=settings.COURSE_CHECKIN_TOKEN_MAX_AGE
        )
    except signing.SignatureExpired as error:
        raise CourseError("checkin_expired") from error
    except signing.BadSignature as error:
        raise CourseError("checkin_invalid") from error
    session = (
        CourseSession.objects.select_related("offering", "course").filter(pk=int(raw)).first()
        if raw.isdigit()
        else None
    )
    if session is None:
        raise CourseError("checkin_invalid")
    return session


def checkin_window(session: CourseSession):
    """Scanning the QR code works from when attendance marking opens until the
    session ends; staff may still mark attendance on the roster after that."""
    return attendance_marking(offering=session.offering).opens_at, session.offering.ends_at


def session_checkin(*, token: str, user) -> Booking:
    """A parent scanned the QR code: mark the family's confirmed booking present, once."""
    session = checkin_session_from_token(token)
    family = family_of(user)
    if family is None:
        raise CourseError("no_family")
    opens, closes = checkin_window(session)
    now = timezone.now()
    if now < opens:
        raise CourseError(
            "checkin_not_open",
            opens=moment_label(opens),
            minutes=settings.COURSE_CHECKIN_OPENS_MINUTES_BEFORE,
        )
    if now > closes:
        raise CourseError("checkin_ended", closes=moment_label(closes))
    booking = Booking.objects.filter(
        offering_id=session.offering_id, family=family, status=Booking.Status.CONFIRMED
    ).first()
    if booking is None:
        raise CourseError("checkin_not_booked")
    with offering_transaction():
        marked, newly_present = booking_services.booking_mark_attendance(
            booking_id=booking.pk, present=True, marked_by=user, checked_in_at=now
        )
        if not newly_present:
            raise CourseError("checkin_done")
        credit_post_for_attendance(booking=marked, created_by=user)
        audit_log_record(actor=user, action="courses.session.checkin", target=marked)
        return marked


def family_of(user) -> Family | None:
    if not getattr(user, "is_authenticated", False):
        return None
    guardian = getattr(user, "guardian", None)
    return guardian.family if guardian is not None else None


# Online lessons -------------------------------------------------------------------


def lesson_heartbeat_max_counted_seconds() -> float:
    """The most one heartbeat may add: three heartbeat intervals, so a lost request
    or two still counts while a page that reports once an hour does not."""
    return 3.0 * settings.LESSON_HEARTBEAT_SECONDS


def _finite_seconds(value) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError) as error:
        raise CourseError("bad_progress") from error
    if not math.isfinite(seconds) or seconds < 0:
        raise CourseError("bad_progress")
    return seconds


def lesson_progress_record(
    *, lesson: OnlineLesson, user, position_seconds, watched_seconds
) -> tuple[LessonProgress, bool]:
    """One heartbeat of the lesson page: count the watching time, keep the resume
    position and, when the family has watched ``LESSON_CREDIT_PERCENT`` of the
    lesson, post its credit once.

    ``watched_seconds`` is what the page says it played since its previous
    heartbeat (seeks left out). The server counts at most the real time since the
    previous heartbeat it accepted for this family and lesson (and at most three
    heartbeat intervals), so seeking ahead, playing at double speed or sending
    heartbeats quickly never counts faster than the clock. The first heartbeat
    only starts the clock. Returns the progress and whether this call posted the
    credit.
    """
    family = family_of(user)
    if family is None:
        raise CourseError("no_family")
    if not lesson.plays_here:
        # Outside links are watched elsewhere: nothing to count, never credited.
        raise CourseError("lesson_not_tracked")
    position = _finite_seconds(position_seconds)
    watched = _finite_seconds(watched_seconds)
    duration = float(lesson.duration_seconds)
    with transaction.atomic():
        progress, _ = LessonProgress.objects.get_or_create(lesson=lesson, family=family)
        # Heartbeats of one family (two tabs, two guardians) run in turn, so each
        # sees the time of the one before it.
        progress = LessonProgress.objects.select_for_update().get(pk=progress.pk)
        now = timezone.now()
        counted = 0.0
        if progress.last_heartbeat_at is not None:
            elapsed = max((now - progress.last_heartbeat_at).total_seconds(), 0.0)
            counted = min(watched, elapsed, lesson_heartbeat_max_counted_seconds())
        counted = min(counted, max(duration - progress.seconds_watched, 0.0))
        progress.seconds_watched += counted
        progress.percent = min(int(progress.seconds_watched * 100 // duration), 100)
        progress.position_seconds = min(position, duration)
        progress.last_heartbeat_at = now
        credited = completed = False
        if progress.percent >= settings.LESSON_CREDIT_PERCENT and progress.completed_at is None:
            progress.completed_at = now
            completed = True
            credited = _credit_lesson(lesson=lesson, progress=progress, user=user)
        progress.save(
            update_fields=[
                "seconds_watched",
                "percent",
                "position_seconds",
                "last_heartbeat_at",
                "completed_at",
                "updated_at",
            ]
        )
        if completed:
            participation_changed.send(
                sender=LessonProgress,
                lesson_progress_ids=[progress.pk],
                credit_keys=[f"lesson:{lesson.pk}:family:{progress.family_id}"] if credited else [],
            )
        return progress, credited


def _credit_lesson(*, lesson: OnlineLesson, progress: LessonProgress, user) -> bool:
    """Post the lesson's credit for the family, once: the key is unique, so a
    second post (another process, a reset progress row) inserts nothing."""
    course = lesson.course
    entry = CreditEntry(
        key=f"lesson:{lesson.pk}:family:{progress.family_id}",
        family_id=progress.family_id,
        guardian=getattr(user, "guardian", None),
        term_id=course.term_id,
        course=course,
        amount=lesson.credit_amount,
        reason=CreditEntry.Reason.ONLINE_LESSON,
        lesson_progress=progress,
        created_by=user,
    )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        return False
    audit_log_record(
        actor=user, action="courses.lesson.complete", target=progress, data={"credit": entry.pk}
    )
    return True


# --- 三师联动 (volunteers issue 17) ---


class CourseReviewerError(CourseError):
    """Refusals of ``course_reviewer_assign`` (a ``CourseError``, with its own messages)."""

    def __init__(self, code: str):
        # Imported here: this block keeps to itself (courses/errors.py is unchanged).
        from django.utils.translation import gettext

        messages = {
            "reviewer_missing": gettext("没有找到这位专家，请从列表中选择。"),
            "reviewer_not_expert": gettext("只有「专家」层级的讲师/志愿者可以担任课程的审阅专家。"),
        }
        self.code = code
        self.message = messages[code]
        Exception.__init__(self, code)


def reviewer_candidates(user):
    """Instructors a user may name as a course's reviewer: experts of the units
    they see, and expert volunteers of the corps (who serve the whole district)."""
    from parent_school.models import Instructor

    return Instructor.objects.filter(tier=Instructor.Tier.EXPERT).filter(
        Q(is_volunteer=True) | Q(unit__in=access.visible_unit_ids(user))
    )


def course_reviewer_assign(*, user, course_id, instructor_id) -> Course:
    """Name an expert (tier 专家) to review a course of the user's units; None clears.

    The course page then shows 「审阅专家：name」. Audit-logged.
    """
    from parent_school.models import Instructor

    with transaction.atomic():
        course = (
            Course.objects.select_for_update(of=("self",))
            .select_related("parent_school")
            .filter(pk=course_id)
            .first()
        )
        if course is None or not access.can_change_unit(user, course.parent_school.host_unit_id):
            raise CourseError("course_missing")
        reviewer = None
        if instructor_id is not None:
            reviewer = Instructor.objects.filter(pk=instructor_id).first()
            if reviewer is None:
                raise CourseReviewerError("reviewer_missing")
            if reviewer.tier != Instructor.Tier.EXPERT:
                raise CourseReviewerError("reviewer_not_expert")
            if not reviewer_candidates(user).filter(pk=reviewer.pk).exists():
                raise CourseReviewerError("reviewer_missing")
        if course.reviewer_id == getattr(reviewer, "pk", None):
            return course
        previous = course.reviewer_id
        course.reviewer = reviewer
        course.save(update_fields=["reviewer"])
        audit_log_record(
            actor=user,
            action="courses.course.reviewer_assign",
            target=course,
            data={"reviewer": getattr(reviewer, "pk", None), "previous": previous},
        )
    return course
