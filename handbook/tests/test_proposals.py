"""At-school claims proposed from the attendance record
(handbook.services.claims_propose_from_attendance, its receiver and task)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from bookings.models import Booking, Offering
from courses.models import CourseSession
from courses.services import session_attendance_mark
from courses.tests.factories import CourseFactory
from events.models import Event
from events.tests.factories import make_event
from handbook import services
from handbook.demo import default_items
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally, HandbookItem
from members.tests.factories import ChildFactory, GuardianFactory, MemberUnitFactory
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


def session_offering(*, unit, starts_at=None) -> Offering:
    starts_at = starts_at or timezone.now() - datetime.timedelta(minutes=20)
    offering = Offering.objects.create(
        kind=Offering.Kind.COURSE_SESSION,
        title="家长课堂：倾听的力量",
        unit=unit,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=2),
        capacity=50,
    )
    CourseSession.objects.create(course=CourseFactory(), offering=offering)
    return offering


def event_offering(*, unit, kind=Event.Kind.VOLUNTEER) -> Offering:
    starts_at = timezone.now() - datetime.timedelta(minutes=20)
    return make_event(kind=kind, organiser_unit=unit, starts_at=starts_at).offering


def book(offering, family, *, attendance=Booking.Attendance.PRESENT) -> Booking:
    return Booking.objects.create(
        offering=offering,
        family=family,
        status=Booking.Status.CONFIRMED,
        party_size=1,
        attendance=attendance,
    )


def test_a_present_booking_on_a_course_session_proposes_the_matching_item(world):
    # given: the family attended a session at a parent school (another unit)
    host = MemberUnitFactory(name="社区家长学校")
    offering = session_offering(unit=host)
    booking = book(offering, world.family)

    # when
    made = services.claims_propose_from_attendance(offering_ids=[offering.pk])

    # then: one pending 家长课堂 claim, verified by the host, on the session's day
    assert made == 1
    claim = Claim.objects.get()
    assert claim.item == world.course and claim.status == Claim.Status.PENDING
    assert claim.source == Claim.Source.ATTENDANCE and claim.booking == booking
    assert claim.unit == host and claim.family == world.family
    assert claim.occurred_on == timezone.localdate(offering.starts_at)
    assert claim.term == world.term and claim.points == 0 and not claim.photo
    # counted in the tallies like any claim
    assert ClaimTally.objects.get(family=world.family, item=world.course, period="term").used == 1


def test_proposing_again_changes_nothing(world):
    offering = session_offering(unit=world.school)
    book(offering, world.family)
    assert services.claims_propose_from_attendance(offering_ids=[offering.pk]) == 1
    assert services.claims_propose_from_attendance(offering_ids=[offering.pk]) == 0
    assert services.claims_propose_from_attendance() == 0
    assert Claim.objects.count() == 1
    assert ClaimTally.objects.get(family=world.family, item=world.course, period="term").used == 1


def test_events_match_by_kind_and_absent_or_unmarked_bookings_propose_nothing(world):
    volunteer = event_offering(unit=world.school)
    lecture = event_offering(unit=world.school, kind=Event.Kind.LECTURE)
    session = session_offering(unit=world.school)
    book(volunteer, world.family)
    book(lecture, world.family)
    other = GuardianFactory().family
    ChildFactory(family=other, school=world.school)
    book(session, other, attendance=Booking.Attendance.ABSENT)
    third = GuardianFactory().family
    book(volunteer, third, attendance=Booking.Attendance.UNKNOWN)

    made = services.claims_propose_from_attendance(
        offering_ids=[volunteer.pk, lecture.pk, session.pk]
    )

    # then: only the volunteer event, and only the present family
    assert made == 1
    claim = Claim.objects.get()
    assert claim.item == world.volunteer and claim.booking.offering == volunteer


def test_a_family_without_its_alliances_own_set_gets_the_district_defaults(world):
    # given: the district's defaults (a transactional test may have flushed the
    # migration's rows), and a family whose child's school is in no alliance
    # with its own handbook
    default_items()
    guardian = GuardianFactory()
    ChildFactory(family=guardian.family, school=MemberUnitFactory())
    offering = session_offering(unit=world.school)
    book(offering, guardian.family)

    services.claims_propose_from_attendance(offering_ids=[offering.pk])

    # then: the default 家长课堂 (the data migration's), not the alliance's
    claim = Claim.objects.get()
    assert claim.item.alliance_id is None and claim.item.name == "家长课堂"
    assert claim.item.attendance_match == HandbookItem.AttendanceMatch.COURSE_SESSION


def test_proposals_respect_the_items_limits(world):
    # given: at most one 家长课堂 a term, three sessions attended
    world.course.limit_per_term = 1
    world.course.save()
    offerings = [
        session_offering(
            unit=world.school, starts_at=timezone.now() - datetime.timedelta(days=d, minutes=30)
        )
        for d in (1, 2, 3)
    ]
    for offering in offerings:
        book(offering, world.family)

    made = services.claims_propose_from_attendance(offering_ids=[o.pk for o in offerings])

    # then: one proposal (the earliest), and the parent cannot add another by hand
    assert made == 1
    assert Claim.objects.get().booking.offering == offerings[-1]
    assert ClaimTally.objects.get(family=world.family, item=world.course, period="term").used == 1


def test_an_attendance_claim_is_never_claimed_by_hand(world):
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(user=world.parent, item_id=world.course.pk, occurred_on=world.today)
    assert caught.value.code == "attendance_only"


def test_the_proposal_queries_do_not_grow_with_the_bookings(world, django_assert_max_num_queries):
    def families(n):
        out = []
        for _ in range(n):
            family = GuardianFactory().family
            ChildFactory(family=family, school=world.school)
            out.append(family)
        return out

    small = session_offering(unit=world.school)
    for family in families(1):
        book(small, family)
    big = session_offering(unit=world.school)
    for family in families(20):
        book(big, family)

    # (20 of the handbook's own: the offering chunk's transaction and its withdrawal
    # of stale proposals included; and the roll-up's one mark: reports/receivers.py)
    with django_assert_max_num_queries(21) as one:
        assert services.claims_propose_from_attendance(offering_ids=[small.pk]) == 1
    with django_assert_max_num_queries(len(one.captured_queries)) as twenty:
        assert services.claims_propose_from_attendance(offering_ids=[big.pk]) == 20
    assert len(twenty.captured_queries) == len(one.captured_queries)


def test_bulk_approval_takes_attendance_claims_only(world):
    offering = session_offering(unit=world.school)
    book(offering, world.family)
    services.claims_propose_from_attendance(offering_ids=[offering.pk])
    proposed = Claim.objects.get()
    by_hand = services.claim_submit(
        user=world.parent, item_id=world.reading.pk, occurred_on=world.today
    )

    approved = services.claims_bulk_approve(user=world.teacher, claim_ids=[proposed.pk, by_hand.pk])

    assert approved == 1
    proposed.refresh_from_db()
    by_hand.refresh_from_db()
    assert proposed.status == Claim.Status.APPROVED and proposed.points == world.course.points
    assert by_hand.status == Claim.Status.PENDING
    # another unit's verifier approves nothing
    assert services.claims_bulk_approve(user=world.other_teacher, claim_ids=[by_hand.pk]) == 0


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_marking_a_booking_present_proposes_the_claim_through_a_real_worker(
    tx_world, celery_worker_process
):
    world = tx_world
    # given: a confirmed booking on a session that started twenty minutes ago
    offering = session_offering(unit=world.school)
    booking = book(offering, world.family, attendance=Booking.Attendance.UNKNOWN)
    session = CourseSession.objects.get(offering=offering)

    # when: the instructor marks the family present (the receiver queues the
    # task after the commit; the worker process proposes)
    session_attendance_mark(
        session=session, booking_id=booking.pk, present=True, marked_by=world.teacher
    )

    # then
    claim = wait_for(lambda: Claim.objects.filter(booking=booking).first(), timeout=60)
    assert claim.item_id == world.course.pk and claim.source == Claim.Source.ATTENDANCE
    assert claim.status == Claim.Status.PENDING and claim.unit_id == world.school.pk


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_proposals_make_one_claim_and_count_it_once(tx_world):
    from tests.races import run_together

    world = tx_world
    offering = session_offering(unit=world.school)
    book(offering, world.family)

    outcome = run_together(
        [
            lambda: services.claims_propose_from_attendance(offering_ids=[offering.pk]),
            lambda: services.claims_propose_from_attendance(offering_ids=[offering.pk]),
        ],
        meet_before_write=["handbook_claimtally"],
    )

    assert outcome.errors == [] and outcome.met == 2
    assert sorted(outcome.results) == [0, 1]
    assert Claim.objects.filter(family=world.family).count() == 1
    assert ClaimTally.objects.get(family=world.family, item=world.course, period="term").used == 1


def test_bulk_proposals_announce_the_keys_they_changed(world):
    from handbook.signals import claims_changed

    seen = []

    def listener(sender, keys, **kwargs):
        seen.append(keys)

    claims_changed.connect(listener, dispatch_uid="test.handbook.claims_changed")
    try:
        offering = session_offering(unit=world.school)
        book(offering, world.family)
        services.claims_propose_from_attendance(offering_ids=[offering.pk])
        services.claims_propose_from_attendance(offering_ids=[offering.pk])
    finally:
        claims_changed.disconnect(dispatch_uid="test.handbook.claims_changed")

    assert seen == [[(world.term.pk, world.school.pk)]]
