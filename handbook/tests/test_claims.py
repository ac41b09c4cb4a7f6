"""Claims by families (handbook.services.claim_submit, withdraw, respond)."""

from __future__ import annotations

import datetime

import pytest

from handbook import services
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally
from handbook.tests.factories import HandbookItemFactory
from members.models import AuditLog
from members.tests.factories import ChildFactory, GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_guardian_claims_an_item_and_it_is_pending_with_its_verifier(world):
    # when
    claim = services.claim_submit(
        user=world.parent,
        item_id=world.reading.pk,
        occurred_on=world.today,
        child_id=world.child.pk,
        note="读了《小王子》",
    )

    # then: pending, no points yet, verified by the child's school, logged
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING and claim.points == 0
    assert claim.unit_id == world.school.pk and claim.term_id == world.term.pk
    assert claim.source == Claim.Source.PARENT and claim.created_by_id == world.parent.pk
    assert AuditLog.objects.filter(action="handbook.claim.submit", target_id=str(claim.pk)).exists()
    assert set(
        ClaimTally.objects.filter(family=world.family, item=world.reading).values_list(
            "period", "used"
        )
    ) == {("day", 1), ("week", 1), ("term", 1)}


def test_without_a_child_the_first_childs_school_verifies(world):
    claim = services.claim_submit(
        user=world.parent, item_id=world.reading.pk, occurred_on=world.today
    )
    assert claim.unit_id == world.school.pk and claim.child_id is None


def test_a_family_without_a_school_is_told_to_add_the_childs_school(world):
    parent = GuardianFactory().user
    ChildFactory(family=parent.guardian.family, school=None)
    item = HandbookItemFactory()  # a district default: this family has no alliance
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(user=parent, item_id=item.pk, occurred_on=world.today)
    assert caught.value.code == "no_verifier" and caught.value.field == "child"
    assert "学校" in str(caught.value.message)
    assert not Claim.objects.exists() and not ClaimTally.objects.exists()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (dict(item_id=999999), "item_missing", "item"),
        (dict(item_id="abc"), "item_missing", "item"),
        (dict(occurred_on=None), "date_missing", "occurred_on"),
        (dict(occurred_on="2026-13-40"), "date_missing", "occurred_on"),
        (dict(occurred_on="future"), "date_future", "occurred_on"),
        (dict(occurred_on="before_term"), "date_outside_term", "occurred_on"),
        (dict(child_id="other"), "child_missing", "child"),
        (dict(item_id="course"), "attendance_only", "item"),
        (dict(item_id="meeting"), "note_required", "note"),
        (dict(item_id="chores"), "photo_required", "photo"),
        (dict(note="字" * 501), "note_too_long", "note"),
        (dict(item_id="inactive"), "item_missing", "item"),
        (dict(item_id="default"), "item_missing", "item"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(world, change, code, field):
    # given
    values = dict(user=world.parent, item_id=world.reading.pk, occurred_on=world.today, note="")
    special = {
        "future": world.today + datetime.timedelta(days=1),
        "before_term": world.term.starts_on - datetime.timedelta(days=1),
        "other": ChildFactory().pk,
        "course": world.course.pk,
        "meeting": world.meeting.pk,
        "chores": world.chores.pk,
        "inactive": HandbookItemFactory(alliance=world.alliance, is_active=False).pk,
        # the district's default set is not this family's: its alliance has its own
        "default": HandbookItemFactory(alliance=None).pk,
    }
    for key, value in change.items():
        values[key] = special.get(value, value) if isinstance(value, str) else value
    audit_before = AuditLog.objects.count()

    # when
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(**values)

    # then
    assert caught.value.code == code and caught.value.field == field
    assert str(caught.value.message)
    assert not Claim.objects.exists() and not ClaimTally.objects.exists()
    assert AuditLog.objects.count() == audit_before


def test_someone_without_a_family_cannot_claim(world):
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(user=UserFactory(), item_id=world.reading.pk, occurred_on=world.today)
    assert caught.value.code == "no_family"


def test_withdrawing_frees_the_place_and_only_the_family_may(world):
    # given
    claim = services.claim_submit(
        user=world.parent, item_id=world.reading.pk, occurred_on=world.today
    )

    # when: another family tries, then the family withdraws
    with pytest.raises(HandbookError) as caught:
        services.claim_withdraw(user=GuardianFactory().user, claim_id=claim.pk)
    assert caught.value.code == "claim_missing"
    services.claim_withdraw(user=world.parent, claim_id=claim.pk)

    # then: withdrawn, the day's place is free again (a new claim is accepted)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.WITHDRAWN
    again = services.claim_submit(
        user=world.parent, item_id=world.reading.pk, occurred_on=world.today
    )
    assert again.status == Claim.Status.PENDING
    assert ClaimTally.objects.get(family=world.family, item=world.reading, period="day").used == 1
    assert AuditLog.objects.filter(action="handbook.claim.withdraw").count() == 1


def test_a_burst_of_claims_is_flagged_to_the_verifier(world, settings):
    settings.HANDBOOK_BURST_CLAIMS = 3
    items = [HandbookItemFactory(alliance=world.alliance) for _ in range(4)]
    claims = [
        services.claim_submit(user=world.parent, item_id=item.pk, occurred_on=world.today)
        for item in items
    ]
    assert [c.flag_burst for c in claims] == [False, False, True, True]
