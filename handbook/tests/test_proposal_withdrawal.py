"""Proposals follow the attendance record both ways: an undone mark withdraws the
proposal (tally given back, audit-logged), and no approval, single or bulk,
awards a proposal whose booking no longer backs it. The nightly sweep picks the
offerings in SQL and hands them to the workers in chunks."""

from __future__ import annotations

import pytest
from django.conf import settings

from bookings.models import Booking
from courses.models import CourseSession
from courses.services import session_attendance_mark
from handbook import selectors, services, tasks
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally
from handbook.tests.test_proposals import book, session_offering
from members.models import AuditLog
from members.tests.factories import ChildFactory, GuardianFactory

pytestmark = pytest.mark.django_db


def _proposed(world):
    offering = session_offering(unit=world.school)
    booking = book(offering, world.family)
    assert services.claims_propose_from_attendance(offering_ids=[offering.pk]) == 1
    return offering, booking, Claim.objects.get(booking=booking)


def _term_used(world) -> int:
    return ClaimTally.objects.get(family=world.family, item=world.course, period="term").used


def test_unmarking_the_attendance_withdraws_the_proposal_through_the_receiver(
    world, django_capture_on_commit_callbacks
):
    offering, booking, claim = _proposed(world)
    assert _term_used(world) == 1
    session = CourseSession.objects.get(offering=offering)

    # when: the instructor corrects the roster (absent); the receiver queues the
    # proposal task after the commit (eager here), which withdraws
    with django_capture_on_commit_callbacks(execute=True):
        session_attendance_mark(
            session=session, booking_id=booking.pk, present=False, marked_by=world.teacher
        )

    claim.refresh_from_db()
    assert claim.status == Claim.Status.WITHDRAWN
    assert _term_used(world) == 0
    entry = AuditLog.objects.get(action="handbook.claim.unpropose")
    assert entry.target_id == str(claim.pk) and entry.actor is None

    # and marking present again proposes anew? no: the (booking, item) key holds
    # the withdrawn one; nothing is awarded twice
    assert services.claims_propose_from_attendance(offering_ids=[offering.pk]) == 0


def test_a_cancelled_booking_withdraws_its_proposal(world):
    offering, booking, claim = _proposed(world)
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)

    services.claims_propose_from_attendance(offering_ids=[offering.pk])

    claim.refresh_from_db()
    assert claim.status == Claim.Status.WITHDRAWN and _term_used(world) == 0


def test_approving_a_proposal_whose_mark_was_undone_is_refused(world):
    _offering, booking, claim = _proposed(world)
    Booking.objects.filter(pk=booking.pk).update(attendance=Booking.Attendance.ABSENT)

    with pytest.raises(HandbookError) as caught:
        services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="approve")
    assert caught.value.code == "attendance_undone"
    assert "签到记录已撤销" in str(caught.value.message)

    # bulk approval skips it (and approves the others)
    other_family = GuardianFactory().family
    ChildFactory(family=other_family, school=world.school)
    offering2 = session_offering(unit=world.school)
    book(offering2, other_family)
    services.claims_propose_from_attendance(offering_ids=[offering2.pk])
    good = Claim.objects.get(family=other_family)

    assert services.claims_bulk_approve(user=world.teacher, claim_ids=[claim.pk, good.pk]) == 1
    claim.refresh_from_db()
    good.refresh_from_db()
    assert claim.status == Claim.Status.PENDING and claim.points == 0
    assert good.status == Claim.Status.APPROVED
    # rejecting it is still possible
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="reject", reason="未到场")


def test_bulk_approval_skips_a_claim_decided_meanwhile(world, monkeypatch):
    _offering, _booking, first = _proposed(world)
    other_family = GuardianFactory().family
    ChildFactory(family=other_family, school=world.school)
    offering2 = session_offering(unit=world.school)
    book(offering2, other_family)
    services.claims_propose_from_attendance(offering_ids=[offering2.pk])
    second = Claim.objects.get(family=other_family)

    # between the read of the candidates and their locks, another verifier
    # rejects the first
    real = services.claim_transaction

    def decided_meanwhile():
        Claim.objects.filter(pk=first.pk).update(
            status=Claim.Status.REJECTED, decision_reason="别人先审了"
        )
        return real()

    monkeypatch.setattr(services, "claim_transaction", decided_meanwhile)

    approved = services.claims_bulk_approve(user=world.teacher, claim_ids=[first.pk, second.pk])

    assert approved == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Claim.Status.REJECTED  # left as the other verifier decided
    assert second.status == Claim.Status.APPROVED  # the batch went on


def test_the_sweep_picks_the_offerings_in_sql_and_enqueues_them_in_chunks(world, monkeypatch):
    # given: one offering attended without a proposal yet, one already proposed,
    # one whose proposal lost its mark, and one nobody attended
    waiting = session_offering(unit=world.school)
    book(waiting, world.family)
    done = _proposed(world)[0]
    family2 = GuardianFactory().family
    ChildFactory(family=family2, school=world.school)
    undone = session_offering(unit=world.school)
    booking = book(undone, family2)
    services.claims_propose_from_attendance(offering_ids=[undone.pk])
    Booking.objects.filter(pk=booking.pk).update(attendance=Booking.Attendance.ABSENT)
    empty = session_offering(unit=world.school)
    book(empty, GuardianFactory().family, attendance=Booking.Attendance.ABSENT)

    assert selectors.offerings_to_propose(term=world.term) == sorted([waiting.pk, undone.pk])

    # the beat task enqueues claims_propose in chunks; the (eager) tasks do the work
    monkeypatch.setattr(services, "SWEEP_CHUNK", 1)
    sent = []
    real_delay = tasks.claims_propose.delay
    monkeypatch.setattr(
        tasks.claims_propose, "delay", lambda ids: sent.append(ids) or real_delay(ids)
    )

    assert tasks.claims_propose_sweep.delay().get() == 2

    assert sent == [[waiting.pk], [undone.pk]]
    assert Claim.objects.filter(booking__offering=waiting, status="pending").count() == 1
    assert Claim.objects.get(booking=booking).status == Claim.Status.WITHDRAWN
    assert selectors.offerings_to_propose(term=world.term) == []
    assert done.pk not in {pk for ids in sent for pk in ids}


def test_the_sweep_is_on_the_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["handbook-propose-from-attendance"]
    assert entry["task"] == "handbook.tasks.claims_propose_sweep"
    assert "schedule" in entry
