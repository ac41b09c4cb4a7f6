"""The incremental roll-up: changes made through the services mark their snapshot
keys, a pass re-rolls exactly those keys, and the result is the full roll-up's.

The world is built around the real clock (the services check booking windows and
attendance marking against it); every roll-up below is given the same ``now`` so
that "held" means the same thing in the incremental and in the full roll-up.
"""

import datetime as dt
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, Offering
from courses import services as course_services
from courses.models import CreditEntry, LessonProgress, OnlineLesson
from members.tests.factories import ChildFactory, GuardianFactory, MemberUnitFactory
from reports.models import TERM_PERIOD, ParticipationSnapshot, SnapshotMark
from reports.rollup import compute_term_figures
from reports.services import SNAPSHOT_METRICS, participation_rollup, snapshot_marks_rollup

from .factories import (
    CourseFactory,
    InstructorFactory,
    ParentSchoolFactory,
    TargetFactory,
    TermFactory,
    booking_make,
    event_make,
    session_make,
)

PRESENT = Booking.Attendance.PRESENT
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _participation_marks():
    return SnapshotMark.objects.filter(figures=SnapshotMark.Figures.PARTICIPATION)


def month_of(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


def stored() -> dict[tuple, dict]:
    """Every snapshot row, by key, as the figures it holds."""
    return {
        (s.unit_id, s.parent_school_key, s.period): {
            "parent_school_id": s.parent_school_id,
            "month": s.month,
            **{m: getattr(s, m) for m in SNAPSHOT_METRICS},
        }
        for s in ParticipationSnapshot.objects.all()
    }


def fresh(term, now) -> dict[tuple, dict]:
    """What a full roll-up of the same data computes now (nothing written)."""
    return {
        (f["unit_id"], f["parent_school_id"] or 0, f["period"]): {
            "parent_school_id": f["parent_school_id"],
            "month": f["month"],
            **{m: f[m] for m in SNAPSHOT_METRICS},
        }
        for f in compute_term_figures(term=term, now=now)
    }


def assert_identical(term, now) -> None:
    got, want = stored(), fresh(term, now)
    assert sorted(got) == sorted(want)
    for key, figures in want.items():
        for field, value in figures.items():
            assert got[key][field] == value, (key, field, got[key][field], value)


def build_world(now):
    """Two parent schools of one unit, one of another, events of two units;
    sessions last month (held), three days ago (marking open), in two weeks
    (booking open), a small one with a waiting list; credits and a lesson."""
    w = type("World", (), {})()
    today = now.astimezone(SHANGHAI).date()
    w.term = TermFactory(
        code="incremental",
        is_current=True,
        starts_on=today - dt.timedelta(days=100),
        ends_on=today + dt.timedelta(days=60),
    )
    w.u1, w.u2 = MemberUnitFactory(name="一小"), MemberUnitFactory(name="二小")
    w.ps_a = ParentSchoolFactory(host_unit=w.u1)
    w.ps_b = ParentSchoolFactory(host_unit=w.u1)
    w.ps_c = ParentSchoolFactory(host_unit=w.u2)
    TargetFactory(parent_school=w.ps_a, term=w.term, sessions_required=2)
    w.course_a = CourseFactory(parent_school=w.ps_a, term=w.term, credits=Decimal("1.5"))
    w.course_a.instructors.add(InstructorFactory(unit=w.u1, is_volunteer=True))
    w.course_b = CourseFactory(parent_school=w.ps_b, term=w.term)
    w.course_c = CourseFactory(parent_school=w.ps_c, term=w.term)

    w.past = session_make(course=w.course_a, starts_at=now - dt.timedelta(days=40))
    w.recent = session_make(course=w.course_a, starts_at=now - dt.timedelta(days=3))
    w.recent_b = session_make(course=w.course_b, starts_at=now - dt.timedelta(days=2))
    w.future = session_make(course=w.course_a, starts_at=now + dt.timedelta(days=14))
    w.small = session_make(course=w.course_c, starts_at=now + dt.timedelta(days=10), capacity=2)
    w.moving = session_make(course=w.course_b, starts_at=now + dt.timedelta(days=20))
    w.event = event_make(unit=w.u2, starts_at=now - dt.timedelta(days=1))

    w.guardians = [GuardianFactory() for _ in range(6)]
    w.kids = [ChildFactory(family=g.family) for g in w.guardians]
    g = w.guardians

    def book(offering, guardian, **kw):
        kid = w.kids[g.index(guardian)]
        return booking_make(
            offering=offering.offering,
            family=guardian.family,
            guardian=guardian,
            children=[kid],
            **kw,
        )

    w.past_present = book(w.past, g[0], attendance=PRESENT)
    book(w.past, g[1], attendance=PRESENT)
    w.recent_bookings = [book(w.recent, guardian) for guardian in g[:4]]
    w.recent_b_booking = book(w.recent_b, g[0])
    w.event_booking = book(w.event, g[2])
    book(w.future, g[5])
    w.small_first = book(w.small, g[0], with_guardian=False)  # party 1
    book(w.small, g[1], with_guardian=False)
    Offering.objects.filter(pk=w.small.offering_id).update(places_taken=2)  # full
    book(w.moving, g[3])
    # created_at is auto_now_add (and the ledger append-only): pin "now" instead.
    with mock.patch("django.utils.timezone.now", return_value=w.past.offering.starts_at):
        w.past_credit = CreditEntry.objects.create(
            key="past-credit",
            family=g[0].family,
            term=w.term,
            course=w.course_a,
            amount=Decimal("1.5"),
            reason=CreditEntry.Reason.ATTENDANCE,
            booking=w.past_present,
        )
    w.lesson = OnlineLesson.objects.create(
        course=w.course_b, title="微课", duration_seconds=100, video_file="lessons/a.mp4"
    )
    w.progress = LessonProgress.objects.create(
        lesson=w.lesson,
        family=g[4].family,
        seconds_watched=85,
        percent=85,
        last_heartbeat_at=timezone.now() - dt.timedelta(seconds=20),
    )
    return w


def change_everything(w) -> None:
    """One change of each kind, each through its service."""
    g, staff = w.guardians, w.guardians[0].user
    # attendance with credits (and one corrected back to absent: reversals)
    for booking in w.recent_bookings[:3]:
        course_services.session_attendance_mark(
            session=w.recent, booking_id=booking.pk, present=True, marked_by=staff
        )
    course_services.session_attendance_mark(
        session=w.recent, booking_id=w.recent_bookings[2].pk, present=False, marked_by=staff
    )
    # a parent school of the same unit, and an event of another unit
    course_services.session_attendance_mark(
        session=w.recent_b, booking_id=w.recent_b_booking.pk, present=True, marked_by=staff
    )
    booking_services.booking_mark_attendance(
        booking_id=w.event_booking.pk, present=True, marked_by=staff
    )
    # a booking, a booking onto the waiting list, a cancellation that promotes it
    booking_services.booking_create(
        offering_id=w.future.offering_id,
        family=g[4].family,
        booked_by=g[4].user,
        guardian_ids=[g[4].pk],
        child_ids=[w.kids[4].pk],
    )
    waiting = booking_services.booking_create(
        offering_id=w.small.offering_id,
        family=g[2].family,
        booked_by=g[2].user,
        child_ids=[w.kids[2].pk],
    )
    assert waiting.status == Booking.Status.WAITING
    booking_services.booking_cancel(
        booking_id=w.small_first.pk, family=None, cancelled_by=staff, force=True
    )
    assert Booking.objects.get(pk=waiting.pk).status == Booking.Status.CONFIRMED
    # a credit of last month reversed this month
    course_services.credit_reverse(entry=w.past_credit, created_by=staff)
    # a session moved to another month, one cancelled
    booking_services.offering_reschedule(
        offering_id=w.moving.offering_id,
        starts_at=w.moving.offering.starts_at + dt.timedelta(days=35),
        ends_at=w.moving.offering.ends_at + dt.timedelta(days=35),
        changed_by=staff,
    )
    booking_services.offering_cancel(offering_id=w.future.offering_id, cancelled_by=staff)
    # an online lesson completed (and credited)
    _progress, credited = course_services.lesson_progress_record(
        lesson=w.lesson, user=g[4].user, position_seconds=95, watched_seconds=15
    )
    assert credited


@pytest.mark.django_db
def test_the_incremental_roll_up_gives_the_full_roll_ups_snapshot(
    settings, django_assert_max_num_queries
):
    # given a varied world and its full roll-up
    now = timezone.now()
    w = build_world(now)
    participation_rollup(term=w.term, now=now)
    before = {
        (s.unit_id, s.parent_school_key, s.period): s.computed_at
        for s in ParticipationSnapshot.objects.all()
    }
    figures_before = stored()
    assert not SnapshotMark.objects.exists()

    # when every kind of change goes through its service
    change_everything(w)

    # then each marked only its own keys: the months the changes touch
    marked = set(SnapshotMark.objects.values_list("unit_id", "parent_school_key", "period"))
    recent, event, future = w.recent.offering, w.event.offering, w.future.offering
    moved_from = month_of(w.moving.offering.starts_at)
    w.moving.offering.refresh_from_db()
    this_month = month_of(timezone.now())
    assert marked == {
        (w.u1.pk, w.ps_a.pk, month_of(recent.starts_at)),  # attendance
        (w.u1.pk, w.ps_a.pk, this_month),  # its credits, the reversal
        (w.u1.pk, w.ps_b.pk, month_of(w.recent_b.offering.starts_at)),
        (w.u1.pk, w.ps_b.pk, this_month),  # credits; the lesson and its credit
        (w.u2.pk, 0, month_of(event.starts_at)),  # the event's attendance
        (w.u1.pk, w.ps_a.pk, month_of(future.starts_at)),  # booking, cancelled session
        (w.u2.pk, w.ps_c.pk, month_of(w.small.offering.starts_at)),  # cancel + promotion
        (w.u1.pk, w.ps_b.pk, moved_from),  # the move: both months
        (w.u1.pk, w.ps_b.pk, month_of(w.moving.offering.starts_at)),
    }

    # when one pass runs: a fixed number of queries for all these keys (savepoint,
    # lock, claim, term, planner, the seven aggregates (with the consultations held),
    # targets, upsert, delete of
    # vanished rows, delete of the marks, release; and 考核 of the units re-rolled:
    # their unit targets, none here, and the delete of attainment no longer targeted)
    with django_assert_max_num_queries(19):
        keys = snapshot_marks_rollup(now=now)

    # then the snapshot is field by field the one a full roll-up computes now
    assert keys == len(marked)
    assert not SnapshotMark.objects.exists()
    assert_identical(w.term, now)
    # and it did change, and only the marked rows and their term rows were re-rolled
    after = stored()
    assert after != figures_before
    assert after[(w.u1.pk, w.ps_a.pk, TERM_PERIOD)]["attendances"] == (
        figures_before[(w.u1.pk, w.ps_a.pk, TERM_PERIOD)]["attendances"] + 2
    )
    rerolled = marked | {(u, p, TERM_PERIOD) for u, p, _m in marked}
    for snapshot in ParticipationSnapshot.objects.all():
        key = (snapshot.unit_id, snapshot.parent_school_key, snapshot.period)
        assert (snapshot.computed_at != before.get(key)) == (key in rerolled), key


@pytest.mark.django_db
def test_a_change_writes_one_mark_in_its_own_transaction(django_capture_on_commit_callbacks):
    now = timezone.now()
    w = build_world(now)
    booking = w.recent_bookings[0]

    # when a mark is made (and the transaction rolls back)
    with pytest.raises(RuntimeError), transaction.atomic():
        booking_services.booking_mark_attendance(
            booking_id=booking.pk, present=True, marked_by=None
        )
        assert SnapshotMark.objects.count() == 1
        raise RuntimeError
    # then the mark went with it
    assert not SnapshotMark.objects.exists()

    # when it commits: one INSERT … SELECT, whatever the change touches
    with CaptureQueriesContext(connection) as ctx:
        booking_services.booking_mark_attendance(
            booking_id=booking.pk, present=True, marked_by=None
        )
    writes = [q["sql"] for q in ctx.captured_queries if "reports_snapshotmark" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO")
    assert SnapshotMark.objects.count() == 1

    # and a waiting booking counts nowhere: no mark
    SnapshotMark.objects.all().delete()
    booking_services.booking_create(
        offering_id=w.small.offering_id,
        family=w.guardians[3].family,
        booked_by=w.guardians[3].user,
        child_ids=[w.kids[3].pk],
    )
    assert not SnapshotMark.objects.exists()


@pytest.mark.django_db
def test_a_pass_with_nothing_marked_costs_four_queries(django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # savepoint, lock, claim, release
        assert snapshot_marks_rollup() == 0


@pytest.mark.django_db
def test_a_full_roll_up_consumes_the_marks_it_covers():
    now = timezone.now()
    w = build_world(now)
    booking_services.booking_mark_attendance(
        booking_id=w.recent_bookings[0].pk, present=True, marked_by=None
    )
    assert SnapshotMark.objects.count() == 1
    participation_rollup(term=w.term, now=now)
    assert not SnapshotMark.objects.exists()
    assert_identical(w.term, now)


def _run_threads(*targets):
    errors = []

    def wrap(target):
        def run():
            try:
                target()
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_simultaneous_marks_and_passes_on_one_key_give_one_correct_snapshot():
    # given a full roll-up
    now = timezone.now()
    w = build_world(now)
    participation_rollup(term=w.term, now=now)

    # when two writers mark the same, not yet marked key at once, each holding
    # its transaction open until both have written (neither waits for the other)
    both_written = threading.Barrier(2, timeout=20)

    def mark(booking):
        def run():
            with transaction.atomic():
                booking_services.booking_mark_attendance(
                    booking_id=booking.pk, present=True, marked_by=None
                )
                both_written.wait()

        return run

    _run_threads(mark(w.recent_bookings[0]), mark(w.recent_bookings[1]))
    # (the participation marks: a check-in may also propose a handbook claim, whose
    # handbook mark depends on whether the district's default items are there)
    assert _participation_marks().count() == 2

    # and two coordinators check in two more families while two passes run
    start = threading.Barrier(4, timeout=20)

    def checkin(booking):
        def run():
            start.wait()
            course_services.session_attendance_mark(
                session=w.recent, booking_id=booking.pk, present=True, marked_by=None
            )

        return run

    def roll():
        start.wait()
        snapshot_marks_rollup(now=now)

    _run_threads(checkin(w.recent_bookings[2]), checkin(w.recent_bookings[3]), roll, roll)
    snapshot_marks_rollup(now=now)  # whatever the two passes left

    # then: no error, nothing left marked, one row per key, the full roll-up's figures
    assert not SnapshotMark.objects.exists()
    key = (w.u1.pk, w.ps_a.pk, month_of(w.recent.offering.starts_at))
    assert (
        ParticipationSnapshot.objects.filter(
            unit_id=key[0], parent_school_key=key[1], period=key[2]
        ).count()
        == 1
    )
    assert stored()[key]["attendances"] == 4
    assert_identical(w.term, now)


@pytest.mark.django_db(transaction=True)
def test_a_pass_waits_while_a_full_roll_up_writes():
    now = timezone.now()
    w = build_world(now)
    booking_services.booking_mark_attendance(
        booking_id=w.recent_bookings[0].pk, present=True, marked_by=None
    )
    from reports.services import ROLLUP_LOCK

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK])
    try:
        result = []
        _run_threads(lambda: result.append(snapshot_marks_rollup(now=now)))
        # the pass found the roll-up's lock taken and left the mark
        assert result == [0] and _participation_marks().count() == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ROLLUP_LOCK])
    assert snapshot_marks_rollup(now=now) == 1
    assert not SnapshotMark.objects.exists()


def test_offerings_outside_any_course_or_term_mark_nothing(db):
    # an event outside every term's dates belongs to no snapshot
    unit = MemberUnitFactory()
    TermFactory(code="t", starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 6, 30))
    event = event_make(unit=unit, starts_at=timezone.now() + dt.timedelta(days=400))
    booking_services.offering_cancel(offering_id=event.offering_id, cancelled_by=None)
    assert Offering.objects.get(pk=event.offering_id).status == Offering.Status.CANCELLED
    assert not SnapshotMark.objects.exists()


@pytest.mark.django_db
def test_the_dashboard_says_when_its_figures_were_computed_and_what_is_pending(client):
    from django.urls import reverse

    from members.models import RoleAssignment
    from members.tests.factories import RoleAssignmentFactory, UserFactory

    now = timezone.now()
    w = build_world(now)
    participation_rollup(term=w.term, now=now)
    admin = UserFactory()
    RoleAssignmentFactory(user=admin, role=RoleAssignment.Role.CITY_ADMIN, unit=None)
    client.force_login(admin)
    url = reverse("reports:overview")

    page = client.get(url).content.decode()
    assert "数据更新于" in page and "刚才的变化正在计入" not in page

    # a check-in: marked, not yet re-rolled
    booking_services.booking_mark_attendance(
        booking_id=w.recent_bookings[0].pk, present=True, marked_by=None
    )
    assert "刚才的变化正在计入" in client.get(url).content.decode()

    snapshot_marks_rollup(now=now)
    page = client.get(url).content.decode()
    assert "数据更新于" in page and "刚才的变化正在计入" not in page
