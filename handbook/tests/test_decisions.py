"""Verification (handbook.services.claim_decide, claims_bulk_approve)."""

from __future__ import annotations

import pytest

from events.models import Notice
from handbook import services
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally
from handbook.tests.factories import ClaimFactory
from members.models import AuditLog, RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def _claim(world, item=None, **kwargs):
    return services.claim_submit(
        user=world.parent,
        item_id=(item or world.reading).pk,
        occurred_on=world.today,
        child_id=world.child.pk,
        note=kwargs.pop("note", "读了二十页"),
        **kwargs,
    )


def test_approving_awards_the_items_points_and_is_logged(world):
    claim = _claim(world)

    decided = services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="approve")

    decided.refresh_from_db()
    assert decided.status == Claim.Status.APPROVED and decided.points == world.reading.points
    assert decided.decided_by_id == world.teacher.pk and decided.decided_at is not None
    assert (
        AuditLog.objects.filter(action="handbook.claim.approve", target_id=str(claim.pk)).count()
        == 1
    )
    # approving twice (a double click) changes nothing and logs nothing more
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="approve")
    assert AuditLog.objects.filter(action="handbook.claim.approve").count() == 1


def test_rejecting_needs_a_reason_frees_the_place_and_tells_the_family_once(world):
    claim = _claim(world)
    with pytest.raises(HandbookError) as caught:
        services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="reject", reason=" ")
    assert caught.value.code == "reason_required" and caught.value.field == "reason"

    services.claim_decide(
        user=world.teacher, claim_id=claim.pk, decision="reject", reason="照片看不清"
    )
    services.claim_decide(
        user=world.teacher, claim_id=claim.pk, decision="reject", reason="照片看不清"
    )

    claim.refresh_from_db()
    assert claim.status == Claim.Status.REJECTED and claim.points == 0
    assert claim.decision_reason == "照片看不清"
    day = ClaimTally.objects.get(family=world.family, item=world.reading, period="day")
    assert day.used == 0
    notices = list(Notice.objects.filter(topic="handbook.claim"))
    assert len(notices) == 1
    text = " ".join([notices[0].subject, notices[0].lead, notices[0].sms])
    assert world.reading.name in text
    # never the child's name nor the family's note
    assert world.child.nickname not in text and "读了二十页" not in text
    # the place is free: the family may claim the day again
    assert _claim(world).status == Claim.Status.PENDING


def test_ask_for_more_then_respond_then_approve(world):
    claim = _claim(world)
    services.claim_decide(
        user=world.teacher, claim_id=claim.pk, decision="more", reason="请补充一张照片"
    )
    claim.refresh_from_db()
    assert claim.status == Claim.Status.MORE_INFO
    assert Notice.objects.filter(key=f"handbook.claim:{claim.pk}:more:1").exists()

    services.claim_respond(user=world.parent, claim_id=claim.pk, note="补充：读了三十页")
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING and claim.note == "补充：读了三十页"

    # asked again: a second notice (a new request), then approved
    services.claim_decide(
        user=world.teacher, claim_id=claim.pk, decision="more", reason="还需要照片"
    )
    assert Notice.objects.filter(key=f"handbook.claim:{claim.pk}:more:2").exists()
    services.claim_respond(user=world.parent, claim_id=claim.pk, note="补充完毕")
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == Claim.Status.APPROVED and claim.points == world.reading.points


def test_a_decided_claim_is_final(world):
    claim = _claim(world)
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="approve")
    with pytest.raises(HandbookError) as caught:
        services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="reject", reason="x")
    assert caught.value.code == "already_decided"
    with pytest.raises(HandbookError) as caught:
        services.claim_withdraw(user=world.parent, claim_id=claim.pk)
    assert caught.value.code == "not_withdrawable"


def test_a_verifier_of_another_unit_cannot_decide(world):
    claim = _claim(world)
    for user in (world.other_teacher, world.parent, GuardianFactory().user):
        with pytest.raises(HandbookError) as caught:
            services.claim_decide(user=user, claim_id=claim.pk, decision="approve")
        assert caught.value.code == "claim_missing"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING


def test_nobody_approves_their_own_familys_claim(world):
    # given: the school's teacher is also a guardian of the family and made the claim
    teacher_parent = GuardianFactory(family=world.family).user
    RoleAssignmentFactory(
        user=teacher_parent, unit=world.school, role=RoleAssignment.Role.UNIT_COORDINATOR
    )
    own = services.claim_submit(
        user=teacher_parent, item_id=world.reading.pk, occurred_on=world.today
    )
    spouse = services.claim_submit(
        user=world.parent,
        item_id=world.meeting.pk,
        occurred_on=world.today,
        note="参加了家长会",
    )

    # then: neither their own claim nor their spouse's
    for claim in (own, spouse):
        with pytest.raises(HandbookError) as caught:
            services.claim_decide(user=teacher_parent, claim_id=claim.pk, decision="approve")
        assert caught.value.code == "self_decision"
        claim.refresh_from_db()
        assert claim.status == Claim.Status.PENDING and claim.points == 0


def test_a_creator_who_is_no_longer_a_guardian_still_cannot_decide(world):
    # given: a claim created by a staff user (e.g. entered on the family's behalf)
    staff = RoleAssignmentFactory(unit=world.school, role=RoleAssignment.Role.UNIT_COORDINATOR).user
    claim = ClaimFactory(
        family=world.family,
        item=world.reading,
        term=world.term,
        unit=world.school,
        created_by=staff,
    )
    with pytest.raises(HandbookError) as caught:
        services.claim_decide(user=staff, claim_id=claim.pk, decision="approve")
    assert caught.value.code == "self_decision"


def test_a_bad_decision_is_refused(world):
    claim = _claim(world)
    with pytest.raises(HandbookError) as caught:
        services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="maybe")
    assert caught.value.code == "bad_decision" and caught.value.field == "decision"


def test_an_ask_for_more_already_answered_is_not_sent_any_more(world):
    from handbook.selectors import claim_notice_check

    claim = _claim(world)
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="more", reason="补照片")
    notice = Notice.objects.get(topic="handbook.claim")
    assert claim_notice_check(notice) == ""

    services.claim_respond(user=world.parent, claim_id=claim.pk, note="已补充")

    assert claim_notice_check(notice) == "申报状态已变化"
